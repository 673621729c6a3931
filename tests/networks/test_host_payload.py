"""`host_networks`: what one host's network agent is told to build (computecloud/wire.py's
HostNetworksPayload), from the ports bound to it, their groups, other hosts' tunnels and the
routers of the gateway host."""

import pytest

from apps.networks import routers, services
from apps.networks.exceptions import InvalidInput
from apps.networks.hosts import gateway_host
from apps.networks.lookups import Scope
from apps.networks.models import HostTunnel
from apps.networks.security import RuleRequest, create_security_group, create_security_group_rule
from apps.networks.services import NicRequest
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

VM1 = "11111111-0000-0000-0000-000000000001"
VM2 = "11111111-0000-0000-0000-000000000002"
VM3 = "11111111-0000-0000-0000-000000000003"


def _boot(project, network, instance, host, groups=None):
    return services.allocate_for_instance(
        project_id=project.pk, instance_uuid=instance, hostname=f"vm-{instance[-1]}",
        nics=[NicRequest(network_id=str(network.pk))], host=host, availability_zone="nova",
        security_groups=groups or [],
    )[0]  # fmt: skip


@pytest.fixture
def world(make_network):
    project = ProjectFactory()
    network, subnet = make_network(project, name="net")
    services.record_tunnel_endpoint("host-a", "192.0.2.1")
    services.record_tunnel_endpoint("host-b", "192.0.2.2")
    services.record_tunnel_endpoint("host-c", "192.0.2.3")
    return project, network, subnet


def test_a_hosts_networks_ports_and_remote_tunnels(world):
    project, network, subnet = world
    port_a = _boot(project, network, VM1, "host-a")
    _boot(project, network, VM2, "host-b")

    payload = services.host_networks(host="host-b")

    assert payload["routers"] == []  # host-a is the gateway host (first by name)
    assert [n["id"] for n in payload["networks"]] == [str(network.pk)]
    net = payload["networks"][0]
    assert net == {
        "id": str(network.pk), "name": "net", "project_id": project.pk, "network_type": "vxlan",
        "segmentation_id": network.segmentation_id, "physical_network": None,
        "bridge": f"ccbr-{str(network.pk)[:8]}", "mtu": 1450,
        "subnets": [{"id": str(subnet.pk), "cidr": "10.0.0.0/24", "ip_version": 4,
                     "gateway_ip": "10.0.0.1", "enable_dhcp": True, "dns_nameservers": [],
                     "host_routes": []}],
        "remote_vteps": ["192.0.2.1"],
    }  # fmt: skip
    assert [p["device_id"] for p in payload["ports"]] == [VM2]
    port = payload["ports"][0]
    assert port["hostname"] == "vm-2"
    assert port["fixed_ips"] == [{"subnet_id": str(subnet.pk), "ip_address": "10.0.0.3"}]
    # the default group: egress anywhere, ingress from the group's members
    ingress_v4 = [r for r in port["security_rules"]
                  if r["direction"] == "ingress" and r["ethertype"] == "IPv4"]  # fmt: skip
    assert ingress_v4 == [{
        "direction": "ingress", "ethertype": "IPv4", "protocol": None, "port_range_min": None,
        "port_range_max": None, "remote_ip_prefixes": ["10.0.0.2/32", "10.0.0.3/32"],
    }]  # fmt: skip
    egress = [r for r in port["security_rules"] if r["direction"] == "egress"]
    assert {r["remote_ip_prefixes"] is None for r in egress} == {True}
    assert port_a.binding_host_id == "host-a"
    empty = services.host_networks(host="host-c")
    assert empty.pop("generation") > 0
    assert empty == {"networks": [], "ports": [], "routers": []}


def test_rules_with_prefixes_and_ports_without_security(world, make_network):
    project, network, _ = world
    web = create_security_group(project_id=project.pk, name="web")
    create_security_group_rule(
        group=web,
        rule=RuleRequest(direction="ingress", protocol="tcp", port_range_min=80,
                         port_range_max=80, remote_ip_prefix="198.51.100.7/24"),
        scope=Scope(project_id=project.pk),
    )  # fmt: skip
    _boot(project, network, VM1, "host-a", groups=[str(web.pk)])
    open_net, _ = make_network(project, name="open", cidr="10.9.0.0/24",
                               port_security_enabled=False)  # fmt: skip
    _boot(project, open_net, VM2, "host-a")

    ports = {p["device_id"]: p for p in services.host_networks(host="host-a")["ports"]}

    assert ports[VM2]["security_rules"] is None
    assert {
        "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80,
        "port_range_max": 80, "remote_ip_prefixes": ["198.51.100.0/24"],
    } in ports[VM1]["security_rules"]  # fmt: skip


def test_the_gateway_host_runs_the_routers_and_joins_their_networks(world, make_network, settings):
    project, network, subnet = world
    public, _public_subnet = make_network(ProjectFactory(), name="public", cidr="203.0.113.0/24",
                                         router_external=True, network_type="flat",
                                         physical_network="public")  # fmt: skip
    scope = Scope(project_id=project.pk)
    router = routers.create_router(project_id=project.pk, scope=scope,
                                   external_gateway=routers.GatewayRequest(
                                       network_id=str(public.pk)))  # fmt: skip
    routers.add_router_interface(router, scope=scope, subnet_id=str(subnet.pk))
    port = _boot(project, network, VM3, "host-c")
    floating = routers.create_floating_ip(project_id=project.pk, scope=scope,
                                          floating_network_id=str(public.pk),
                                          port_id=str(port.pk))  # fmt: skip
    assert gateway_host() == "host-a"

    gateway = services.host_networks(host="host-a")
    compute = services.host_networks(host="host-c")

    assert gateway["ports"] == []
    assert sorted(n["name"] for n in gateway["networks"]) == ["net", "public"]
    by_name = {n["name"]: n for n in gateway["networks"]}
    assert by_name["public"]["bridge"] == "br-ex"
    assert by_name["public"]["remote_vteps"] == []
    assert by_name["net"]["remote_vteps"] == ["192.0.2.3"]
    assert gateway["routers"] == [{
        "id": str(router.pk), "project_id": project.pk,
        "interfaces": [{"network_id": str(network.pk), "subnet_id": str(subnet.pk),
                        "cidr": "10.0.0.0/24"}],
        "external_network_id": str(public.pk), "external_bridge": "br-ex",
        "external_address": "203.0.113.2/24", "external_gateway": "203.0.113.1",
        "enable_snat": True,
        "floating_ips": [{"floating_ip_address": floating.floating_ip_address,
                          "fixed_ip_address": "10.0.0.2"}],
    }]  # fmt: skip
    # the compute host reaches the gateway host over the tunnel
    assert compute["networks"][0]["remote_vteps"] == ["192.0.2.1"]
    assert compute["routers"] == []
    # an operator's choice of gateway host wins
    settings.COMPUTECLOUD = {"NETWORK_GATEWAY_HOST": "host-c"}
    assert services.host_networks(host="host-c")["routers"][0]["id"] == str(router.pk)
    assert services.host_networks(host="host-a")["routers"] == []


def test_tunnel_endpoints_are_recorded_once_per_host(world):
    services.record_tunnel_endpoint("host-a", "192.0.2.99")
    assert HostTunnel.objects.get(host="host-a").tunnel_ip == "192.0.2.99"
    assert HostTunnel.objects.count() == 3
    with pytest.raises(InvalidInput, match="not a valid tunnel address"):
        services.record_tunnel_endpoint("host-a", "nonsense")

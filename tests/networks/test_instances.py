"""What the compute side asks of the network service (apps/networks/services.py): NIC checks
at API time, "auto", allocation for an instance (idempotent, all or nothing), its release,
interfaces, addresses, VIFs and security groups."""

import uuid

import pytest

from apps.networks import routers, services
from apps.networks.exceptions import (
    ExternalNetworkAttachForbidden,
    FixedIpAlreadyInUse,
    FixedIpInvalid,
    IpAddressGenerationFailure,
    NetworkAmbiguous,
    NetworkNotFound,
    PortInUse,
    PortNotFound,
    SecurityGroupExistsForInstance,
    SecurityGroupNotExistsForInstance,
    SecurityGroupNotFound,
)
from apps.networks.lookups import Scope
from apps.networks.models import Port
from apps.networks.ports import create_port
from apps.networks.security import create_security_group
from apps.networks.services import NicRequest
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

INSTANCE = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def project():
    return ProjectFactory()


def _allocate(project, nics, *, instance=INSTANCE, host="host-1", groups=None, check=True):
    checked = (
        services.check_nic_requests(project_id=project.pk, is_admin=False, nics=nics)
        if check
        else nics
    )
    return services.allocate_for_instance(
        project_id=project.pk,
        instance_uuid=instance,
        hostname="vm-1",
        nics=checked,
        host=host,
        availability_zone="nova",
        security_groups=groups or [],
    )


# --- checks at API time -----------------------------------------------------------------------
def test_check_fills_in_the_network_of_a_port(project, make_network):
    network, _ = make_network(project)
    port = create_port(project_id=project.pk, network=network)
    checked = services.check_nic_requests(
        project_id=project.pk, is_admin=False, nics=[NicRequest(port_id=str(port.pk), tag="t")]
    )
    assert checked == [NicRequest(network_id=str(network.pk), port_id=str(port.pk), tag="t")]


def test_check_refuses_what_nova_refuses(project, make_network):
    network, _ = make_network(project)
    other_network, _ = make_network(ProjectFactory(), cidr="10.5.0.0/24")
    bound = create_port(project_id=project.pk, network=network, device_id="someone")
    foreign = create_port(project_id=other_network.project_id, network=other_network)
    public, _ = make_network(ProjectFactory(), cidr="203.0.113.0/24", router_external=True)
    cases = [
        (NicRequest(network_id=str(uuid.uuid4())), NetworkNotFound),
        (NicRequest(network_id="not-a-uuid"), NetworkNotFound),
        (NicRequest(network_id=str(other_network.pk)), NetworkNotFound),
        (NicRequest(port_id=str(uuid.uuid4())), PortNotFound),
        (NicRequest(port_id=str(foreign.pk)), PortNotFound),
        (NicRequest(port_id=str(bound.pk)), PortInUse),
        (NicRequest(network_id=str(network.pk), fixed_ip="10.9.9.9"), FixedIpInvalid),
        (NicRequest(network_id=str(network.pk), fixed_ip="nonsense"), FixedIpInvalid),
        (NicRequest(network_id=str(network.pk), fixed_ip="10.0.0.1"), FixedIpAlreadyInUse),
        (NicRequest(network_id=str(network.pk), fixed_ip="10.0.0.2"), FixedIpAlreadyInUse),
        (NicRequest(network_id=str(public.pk)), ExternalNetworkAttachForbidden),
    ]
    for nic, error in cases:
        with pytest.raises(error):
            services.check_nic_requests(project_id=project.pk, is_admin=False, nics=[nic])


def test_auto_picks_the_only_own_network_else_the_only_shared_one(project, make_network):
    assert services.auto_network(project_id=project.pk) is None
    shared, _ = make_network(ProjectFactory(), shared=True, name="shared")
    make_network(ProjectFactory(), router_external=True, shared=True, name="public",
                 cidr="203.0.113.0/24")  # fmt: skip
    assert services.auto_network(project_id=project.pk) == str(shared.pk)
    own, _ = make_network(project, name="own")
    assert services.auto_network(project_id=project.pk) == str(own.pk)
    make_network(project, name="second", cidr="10.1.0.0/24")
    with pytest.raises(NetworkAmbiguous):
        services.auto_network(project_id=project.pk)


# --- allocation -------------------------------------------------------------------------------
def test_allocation_makes_bound_ports_in_nic_order_and_is_idempotent(project, make_network):
    net1, _ = make_network(project, name="net1")
    net2, _ = make_network(project, name="net2", cidr="10.1.0.0/24")
    nics = [
        NicRequest(network_id=str(net1.pk), tag="first"),
        NicRequest(network_id=str(net2.pk)),
        NicRequest(network_id=str(net1.pk), fixed_ip="10.0.0.50"),
    ]
    ports = _allocate(project, nics)
    assert [p.network_id for p in ports] == [net1.pk, net2.pk, net1.pk]
    assert [p.nic_index for p in ports] == [0, 1, 2]
    assert all(p.device_id == INSTANCE for p in ports)
    assert all(p.device_owner == "compute:nova" for p in ports)
    assert all(p.binding_host_id == "host-1" for p in ports)
    assert all(p.status == "BUILD" for p in ports)
    assert not any(p.preserve_on_delete for p in ports)
    assert ports[0].tag == "first"
    assert [a.ip_address for a in ports[2].fixed_ips.all()] == ["10.0.0.50"]
    assert [g.name for g in ports[0].security_groups.all()] == ["default"]
    # a redelivered build (no API check again) finds the same ports, moved to its host
    again = _allocate(project, nics, host="host-2", check=False)
    assert [p.pk for p in again] == [p.pk for p in ports]
    assert Port.objects.count() == 3
    assert set(Port.objects.values_list("binding_host_id", flat=True)) == {"host-2"}


def test_allocation_is_all_or_nothing(project, make_network):
    network, _ = make_network(project, cidr="10.0.0.0/29")  # 5 addresses
    nics = [NicRequest(network_id=str(network.pk))] * 6
    with pytest.raises(IpAddressGenerationFailure):
        _allocate(project, nics)
    assert not Port.objects.exists()


def test_named_groups_and_unknown_ones(project, make_network):
    network, _ = make_network(project)
    web = create_security_group(project_id=project.pk, name="web")
    ports = _allocate(project, [NicRequest(network_id=str(network.pk))], groups=["web"])
    assert [g.pk for g in ports[0].security_groups.all()] == [web.pk]
    with pytest.raises(SecurityGroupNotFound):
        _allocate(project, [NicRequest(network_id=str(network.pk))], instance=str(uuid.uuid4()),
                  groups=["nope"])  # fmt: skip


def test_deallocation_deletes_what_compute_made_and_unbinds_the_users_port(project, make_network):
    network, _ = make_network(project)
    user_port = create_port(project_id=project.pk, network=network, name="mine")
    ports = _allocate(
        project, [NicRequest(network_id=str(network.pk)), NicRequest(port_id=str(user_port.pk))]
    )
    assert ports[1].pk == user_port.pk
    assert ports[1].device_id == INSTANCE
    services.deallocate_for_instance(instance_uuid=INSTANCE)
    assert list(Port.objects.values_list("pk", flat=True)) == [user_port.pk]
    user_port.refresh_from_db()
    assert (user_port.device_id, user_port.device_owner, user_port.binding_host_id) == ("", "", "")
    assert user_port.status == "DOWN"
    assert user_port.fixed_ips.count() == 1
    services.deallocate_for_instance(instance_uuid=INSTANCE)  # idempotent


def test_a_port_bound_meanwhile_fails_the_allocation(project, make_network):
    network, _ = make_network(project)
    port = create_port(project_id=project.pk, network=network)
    checked = services.check_nic_requests(
        project_id=project.pk, is_admin=False, nics=[NicRequest(port_id=str(port.pk))]
    )
    _allocate(project, [NicRequest(port_id=str(port.pk))], instance=str(uuid.uuid4()))
    with pytest.raises(PortInUse):
        services.allocate_for_instance(
            project_id=project.pk, instance_uuid=INSTANCE, hostname="vm", nics=checked,
            host="h", availability_zone=None,
        )  # fmt: skip


# --- interfaces -------------------------------------------------------------------------------
def test_attach_and_detach_interfaces(project, make_network):
    network, _ = make_network(project)
    _allocate(project, [NicRequest(network_id=str(network.pk))])
    user_port = create_port(project_id=project.pk, network=network)
    attach = {"project_id": project.pk, "is_admin": False, "instance_uuid": INSTANCE,
              "hostname": "vm", "host": "host-1", "availability_zone": "az1"}  # fmt: skip
    added = services.attach_interface(**attach, nic=NicRequest(network_id=str(network.pk)))
    borrowed = services.attach_interface(**attach, nic=NicRequest(port_id=str(user_port.pk)))
    assert (added.nic_index, borrowed.nic_index) == (1, 2)
    assert added.device_owner == "compute:az1"
    assert [p.pk for p in services.instance_ports(INSTANCE)][1:] == [added.pk, borrowed.pk]
    assert services.instance_port(INSTANCE, added.pk).pk == added.pk
    with pytest.raises(PortNotFound):
        services.instance_port(INSTANCE, "nonsense")
    services.detach_interface(instance_uuid=INSTANCE, port_id=added.pk)
    services.detach_interface(instance_uuid=INSTANCE, port_id=borrowed.pk)
    assert not Port.objects.filter(pk=added.pk).exists()
    user_port.refresh_from_db()
    assert user_port.device_id == ""
    with pytest.raises(PortNotFound):
        services.detach_interface(instance_uuid=INSTANCE, port_id=user_port.pk)


def test_port_status_reports_from_the_bound_host_only(project, make_network):
    network, _ = make_network(project)
    port = _allocate(project, [NicRequest(network_id=str(network.pk))])[0]
    services.set_port_status(port_id=port.pk, status="ACTIVE", host="elsewhere")
    port.refresh_from_db()
    assert port.status == "BUILD"
    services.set_port_status(port_id=port.pk, status="ACTIVE", host="host-1")
    port.refresh_from_db()
    assert port.status == "ACTIVE"
    services.update_instance_host(instance_uuid=INSTANCE, host="host-9")
    port.refresh_from_db()
    assert port.binding_host_id == "host-9"


# --- reads ------------------------------------------------------------------------------------
def test_addresses_vifs_and_groups_as_nova_shows_them(project, make_network):
    net1, subnet1 = make_network(project, name="net1")
    net2, _ = make_network(project, name="net2", cidr="10.1.0.0/24")
    public, _ = make_network(ProjectFactory(), name="public", cidr="203.0.113.0/24",
                             router_external=True, network_type="flat",
                             physical_network="public")  # fmt: skip
    ports = _allocate(project, [NicRequest(network_id=str(net1.pk)),
                                NicRequest(network_id=str(net2.pk)),
                                NicRequest(network_id=str(net1.pk))])  # fmt: skip
    scope = Scope(project_id=project.pk)
    router = routers.create_router(
        project_id=project.pk, scope=scope,
        external_gateway=routers.GatewayRequest(network_id=str(public.pk)),
    )  # fmt: skip
    routers.add_router_interface(router, scope=scope, subnet_id=str(subnet1.pk))
    floating = routers.create_floating_ip(project_id=project.pk, scope=scope,
                                          floating_network_id=str(public.pk),
                                          port_id=str(ports[0].pk))  # fmt: skip

    addresses = services.instance_addresses([uuid.UUID(INSTANCE), "nothing-here"])

    mac0, mac1, mac2 = (p.mac_address for p in ports)
    assert addresses["nothing-here"] == {}
    assert addresses[INSTANCE] == {
        "net1": [
            {"version": 4, "addr": "10.0.0.2", "OS-EXT-IPS:type": "fixed",
             "OS-EXT-IPS-MAC:mac_addr": mac0},
            {"version": 4, "addr": floating.floating_ip_address, "OS-EXT-IPS:type": "floating",
             "OS-EXT-IPS-MAC:mac_addr": mac0},
            {"version": 4, "addr": "10.0.0.3", "OS-EXT-IPS:type": "fixed",
             "OS-EXT-IPS-MAC:mac_addr": mac2},
        ],
        "net2": [
            {"version": 4, "addr": "10.1.0.2", "OS-EXT-IPS:type": "fixed",
             "OS-EXT-IPS-MAC:mac_addr": mac1},
        ],
    }  # fmt: skip
    vifs = services.instance_vifs(INSTANCE)
    assert [v["id"] for v in vifs] == [str(p.pk) for p in ports]
    assert vifs[0] == {
        "id": str(ports[0].pk), "mac": mac0, "bridge": f"ccbr-{str(net1.pk)[:8]}",
        "network_id": str(net1.pk), "network_name": "net1", "mtu": 1450,
        "ip_address": "10.0.0.2", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1", "dns": [],
    }  # fmt: skip
    assert services.instance_security_groups([INSTANCE]) == {INSTANCE: ["default"]}


def test_a_servers_security_groups_are_added_and_removed(project, make_network):
    network, _ = make_network(project)
    _allocate(project, [NicRequest(network_id=str(network.pk))])
    web = create_security_group(project_id=project.pk, name="web")
    services.add_instance_security_group(project_id=project.pk, instance_uuid=INSTANCE,
                                         name=str(web.pk))  # fmt: skip
    assert services.instance_security_groups([INSTANCE]) == {INSTANCE: ["default", "web"]}
    with pytest.raises(SecurityGroupExistsForInstance):
        services.add_instance_security_group(project_id=project.pk, instance_uuid=INSTANCE,
                                             name="web")  # fmt: skip
    services.remove_instance_security_group(project_id=project.pk, instance_uuid=INSTANCE,
                                            name="default")  # fmt: skip
    services.remove_instance_security_group(project_id=project.pk, instance_uuid=INSTANCE,
                                            name="web")  # fmt: skip
    assert services.instance_security_groups([INSTANCE]) == {INSTANCE: []}
    with pytest.raises(SecurityGroupNotExistsForInstance):
        services.remove_instance_security_group(project_id=project.pk, instance_uuid=INSTANCE,
                                                name="web")  # fmt: skip


def test_project_networks_are_own_and_shared_not_external(project, make_network):
    own, _ = make_network(project, name="own")
    shared, _ = make_network(ProjectFactory(), name="shared", shared=True)
    make_network(ProjectFactory(), name="other")
    make_network(ProjectFactory(), name="public", router_external=True, shared=True,
                 cidr="203.0.113.0/24")  # fmt: skip
    names = sorted(n.name for n in services.project_networks(project_id=project.pk))
    assert names == ["own", "shared"]
    assert own.pk
    assert shared.pk

"""The real clients against the network API of a live server: python-openstackclient's
``network``, ``subnet``, ``port``, ``security group``, ``router``, ``floating ip`` and
``quota`` commands, and openstacksdk's network proxy, finding the service through the catalog
(``.../network``, to which they append ``v2.0``)."""

import uuid
from typing import Any

import pytest

from apps.networks.models import FloatingIP, Network, Port, Router, SecurityGroup, Subnet
from tests.clients.cli import OpenStackCLIError, OpenStackEnv

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(row["Name"] for row in rows)


def test_openstack_cli_networks_subnets_and_ports(openstack_env: OpenStackEnv) -> None:
    run, text = openstack_env.openstack, openstack_env.openstack_text
    suffix = uuid.uuid4().hex[:6]
    net, other = f"net-{suffix}", f"other-{suffix}"
    # networks: create, show by name, list, paging one at a time
    created = run("network", "create", "--tag", "blue", net)
    assert created["name"] == net
    assert created["tags"] == ["blue"]
    assert created["mtu"] == 1450
    run("network", "create", other)
    assert run("network", "show", net)["id"] == created["id"]
    assert _names(run("network", "list")) == sorted([net, other])
    assert _names(run("network", "list", "--limit", "1")) == sorted([net, other])
    assert _names(run("network", "list", "--tags", "blue")) == [net]
    # subnets: what `subnet create` sends with every option
    subnet = run(
        "subnet", "create", "--network", net, "--subnet-range", "10.0.0.0/24",
        "--gateway", "10.0.0.1", "--allocation-pool", "start=10.0.0.10,end=10.0.0.20",
        "--dns-nameserver", "8.8.8.8", "--no-dhcp", f"sub-{suffix}",
    )  # fmt: skip
    assert subnet["cidr"] == "10.0.0.0/24"
    assert subnet["enable_dhcp"] is False
    shown = run("subnet", "show", f"sub-{suffix}")
    assert shown["allocation_pools"] == [{"start": "10.0.0.10", "end": "10.0.0.20"}]
    assert shown["dns_nameservers"] == ["8.8.8.8"]
    overlapping = openstack_env.openstack_result(
        "subnet", "create", "--network", net, "--subnet-range", "10.0.0.0/16", "overlap"
    )
    assert overlapping.returncode != 0
    assert "overlaps with another subnet" in overlapping.stderr
    # ports: next free address, an exact one, a taken one
    port = run("port", "create", "--network", net, f"port-{suffix}")
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.10"
    assert port["mac_address"].startswith("fa:16:3e:")
    exact = run(
        "port", "create", "--network", net,
        "--fixed-ip", f"subnet=sub-{suffix},ip-address=10.0.0.15", f"exact-{suffix}",
    )  # fmt: skip
    assert exact["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.15"}]
    with pytest.raises(OpenStackCLIError, match="already allocated"):
        run("port", "create", "--network", net, "--fixed-ip",
            f"subnet=sub-{suffix},ip-address=10.0.0.15", "taken")  # fmt: skip
    listed = run("port", "list", "--network", net)
    assert sorted(p["Name"] for p in listed) == sorted([f"port-{suffix}", f"exact-{suffix}"])
    assert run("port", "list", "--limit", "1", "--network", net) == listed
    assert run("port", "show", f"port-{suffix}")["id"] == port["id"]
    # deletes, in the order the dependencies ask
    refused = openstack_env.openstack_result("network", "delete", net)
    assert refused.returncode != 0
    text("port", "delete", f"port-{suffix}", f"exact-{suffix}")
    text("subnet", "delete", f"sub-{suffix}")
    text("network", "delete", net, other)
    assert not Network.objects.exists()
    assert not Subnet.objects.exists()
    assert not Port.objects.exists()


def test_openstack_cli_security_groups_and_rules(openstack_env: OpenStackEnv) -> None:
    run, text = openstack_env.openstack, openstack_env.openstack_text
    groups = run("security", "group", "list")
    assert [g["Name"] for g in groups] == ["default"]
    created = run("security", "group", "create", "web")
    assert created["name"] == "web"
    assert len(created["rules"]) == 2
    rule = run(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "web"
    )
    assert rule["port_range_min"] == rule["port_range_max"] == 22
    assert rule["remote_ip_prefix"] == "0.0.0.0/0"
    from_group = run(
        "security", "group", "rule", "create", "--protocol", "icmp", "--remote-group",
        "default", "web",
    )  # fmt: skip
    assert from_group["remote_group_id"] == groups[0]["ID"]
    rules = run("security", "group", "rule", "list", "web")
    assert {r["ID"] for r in rules} >= {rule["id"], from_group["id"]}
    duplicate = openstack_env.openstack_result(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "web"
    )
    assert duplicate.returncode != 0
    text("security", "group", "rule", "delete", rule["id"])
    text("security", "group", "delete", "web")
    assert list(SecurityGroup.objects.values_list("name", flat=True)) == ["default"]


@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)
def test_openstack_cli_routers_and_floating_ips(openstack_env: OpenStackEnv) -> None:
    run, text = openstack_env.openstack, openstack_env.openstack_text
    # the operator's external network
    run("network", "create", "--external", "--provider-network-type", "flat",
        "--provider-physical-network", "public", "public")  # fmt: skip
    run("subnet", "create", "--network", "public", "--subnet-range", "203.0.113.0/24",
        "--allocation-pool", "start=203.0.113.100,end=203.0.113.200", "public-subnet")  # fmt: skip
    # a project network behind a router
    run("network", "create", "private")
    run("subnet", "create", "--network", "private", "--subnet-range", "10.0.0.0/24", "private")
    router = run("router", "create", "r1")
    assert router["name"] == "r1"
    text("router", "set", "--external-gateway", "public", "r1")
    text("router", "add", "subnet", "r1", "private")
    shown = run("router", "show", "r1")
    assert shown["external_gateway_info"]["network_id"] == run("network", "show", "public")["id"]
    assert shown["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == (
        "203.0.113.100"
    )
    port = run("port", "create", "--network", "private", "guest")
    # a floating IP, associated with the port, found by it, released
    floating = run("floating", "ip", "create", "public")
    address = floating["floating_ip_address"]
    assert address == "203.0.113.101"
    text("floating", "ip", "set", "--port", "guest", address)
    associated = run("floating", "ip", "show", address)
    assert associated["port_id"] == port["id"]
    assert associated["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert [f["ID"] for f in run("floating", "ip", "list", "--port", "guest")] == [floating["id"]]
    text("floating", "ip", "unset", "--port", address)
    assert run("floating", "ip", "show", address)["port_id"] is None
    text("floating", "ip", "delete", address)
    # undone in order
    text("port", "delete", "guest")
    text("router", "remove", "subnet", "r1", "private")
    text("router", "unset", "--external-gateway", "r1")
    text("router", "delete", "r1")
    text("network", "delete", "private", "public")
    assert not Router.objects.exists()
    assert not FloatingIP.objects.exists()
    assert not Port.objects.exists()


def test_openstack_cli_quota_show_includes_the_network_quotas(openstack_env: OpenStackEnv) -> None:
    shown = openstack_env.openstack("quota", "show", openstack_env.project.name)
    by_resource = {row["Resource"]: row["Limit"] for row in shown}
    assert by_resource["networks"] == 100
    assert by_resource["ports"] == 500
    assert by_resource["instances"] == 10


# openstacksdk 4.22 warns about its own internals on every call.
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_openstacksdk_network_proxy(openstack_env: OpenStackEnv) -> None:
    conn = openstack_env.connection()
    network = conn.network.create_network(name="sdk-net")
    subnet = conn.network.create_subnet(
        network_id=network.id, cidr="10.2.0.0/24", ip_version=4, name="sdk-subnet"
    )
    port = conn.network.create_port(network_id=network.id, name="sdk-port")
    assert conn.network.find_network("sdk-net").id == network.id
    assert conn.network.find_network(network.id).id == network.id
    assert conn.network.find_network("missing") is None
    assert port.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.2.0.2"}]
    assert [p.id for p in conn.network.ports(network_id=network.id)] == [port.id]
    for i in range(3):
        conn.network.create_network(name=f"sdk-more-{i}")
    paged = [n.name for n in conn.network.networks(limit=1)]
    assert sorted(paged) == ["sdk-more-0", "sdk-more-1", "sdk-more-2", "sdk-net"]
    conn.network.delete_port(port, ignore_missing=False)
    conn.network.delete_subnet(subnet, ignore_missing=False)
    conn.network.delete_network(network, ignore_missing=False)
    assert conn.network.find_network("sdk-net") is None

"""Ports through the API: addresses (IPAM's rules), MACs, security groups, updates, deletes
and the filters clients send."""

import re

import pytest

from apps.networks.models import IPAllocation, Port
from tests.networks.conftest import API, create, neutron_error, ok

pytestmark = pytest.mark.django_db

MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")


@pytest.fixture
def net(member):
    network = create(member.client, "networks", "network", name="n")
    subnet = create(
        member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/29"
    )
    return network, subnet


def test_a_port_gets_the_next_free_address_a_mac_and_the_default_group(member, net):
    network, subnet = net
    first = create(member.client, "ports", "port", network_id=network["id"], name="p1")
    second = create(member.client, "ports", "port", network_id=network["id"], name="p2")
    assert first["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.2"}]
    assert second["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.3"}]
    assert MAC.match(first["mac_address"])
    assert first["mac_address"] != second["mac_address"]
    assert first["status"] == "DOWN"
    assert first["device_id"] == ""
    assert first["device_owner"] == ""
    assert first["binding:vnic_type"] == "normal"
    assert "binding:host_id" not in first  # admins only
    assert first["allowed_address_pairs"] == []
    assert first["port_security_enabled"] is True
    groups = ok(member.client.get(f"{API}/security-groups?name=default"))["security_groups"]
    assert first["security_groups"] == [groups[0]["id"]]


def test_fixed_ips_by_subnet_by_address_and_both(member, net):
    network, subnet = net
    by_subnet = create(
        member.client, "ports", "port", network_id=network["id"],
        fixed_ips=[{"subnet_id": subnet["id"]}],
    )  # fmt: skip
    assert by_subnet["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    by_address = create(
        member.client, "ports", "port", network_id=network["id"],
        fixed_ips=[{"ip_address": "10.0.0.5"}],
    )  # fmt: skip
    assert by_address["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.5"}]
    both = create(
        member.client, "ports", "port", network_id=network["id"],
        fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.6"}],
    )  # fmt: skip
    assert both["fixed_ips"][0]["ip_address"] == "10.0.0.6"
    none = create(member.client, "ports", "port", network_id=network["id"], fixed_ips=[])
    assert none["fixed_ips"] == []
    # taken: 409; outside the CIDR: 400; the gateway: in use
    for address, status, kind in [
        ("10.0.0.5", 409, "IpAddressAlreadyAllocated"),
        ("10.0.9.9", 400, None),
        ("10.0.0.1", 409, "IpAddressAlreadyAllocated"),
    ]:
        response = member.client.post(
            f"{API}/ports",
            {"port": {"network_id": network["id"],
                      "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": address}]}},
            format="json",
        )  # fmt: skip
        neutron_error(response, status, kind)
    assert Port.objects.count() == 4


def test_a_full_subnet_is_a_409_and_leaves_nothing_behind(member, net):
    network, _ = net
    made = [create(member.client, "ports", "port", network_id=network["id"]) for _ in range(5)]
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in made) == [
        f"10.0.0.{i}" for i in range(2, 7)
    ]
    response = member.client.post(
        f"{API}/ports", {"port": {"network_id": network["id"]}}, format="json"
    )
    neutron_error(response, 409, "IpAddressGenerationFailure")
    assert Port.objects.count() == 5
    # a freed address is given again
    ok(member.client.delete(f"{API}/ports/{made[2]['id']}"), 204)
    again = create(member.client, "ports", "port", network_id=network["id"])
    assert again["fixed_ips"][0]["ip_address"] == made[2]["fixed_ips"][0]["ip_address"]


def test_a_second_subnet_takes_over_when_the_first_is_full(member, net):
    network, _ = net
    second = create(
        member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.1.0/29"
    )
    for _ in range(5):
        create(member.client, "ports", "port", network_id=network["id"])
    port = create(member.client, "ports", "port", network_id=network["id"])
    assert port["fixed_ips"] == [{"subnet_id": second["id"], "ip_address": "10.0.1.2"}]


def test_port_security_off_means_no_groups(member, net):
    network, _ = net
    port = create(
        member.client, "ports", "port", network_id=network["id"], port_security_enabled=False
    )
    assert port["security_groups"] == []
    group = create(member.client, "security-groups", "security_group", name="web")
    response = member.client.post(
        f"{API}/ports",
        {"port": {"network_id": network["id"], "port_security_enabled": False,
                  "security_groups": [group["id"]]}},
        format="json",
    )  # fmt: skip
    neutron_error(response, 400)
    named = create(
        member.client, "ports", "port", network_id=network["id"], security_groups=[group["id"]]
    )
    assert named["security_groups"] == [group["id"]]


def test_a_port_update_renames_moves_addresses_and_changes_groups(member, net):
    network, subnet = net
    port = create(member.client, "ports", "port", network_id=network["id"], name="a")
    group = create(member.client, "security-groups", "security_group", name="web")
    response = member.client.put(
        f"{API}/ports/{port['id']}",
        {"port": {"name": "b", "security_groups": [group["id"]],
                  "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.0.0.6"}]}},
        format="json",
    )  # fmt: skip
    updated = ok(response)["port"]
    assert updated["name"] == "b"
    assert updated["security_groups"] == [group["id"]]
    assert updated["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.6"}]
    assert updated["revision_number"] == 1
    assert not IPAllocation.objects.filter(ip_address="10.0.0.2").exists()
    cleared = ok(
        member.client.put(
            f"{API}/ports/{port['id']}",
            {"port": {"security_groups": [], "port_security_enabled": False}},
            format="json",
        )
    )["port"]
    assert cleared["security_groups"] == []
    assert cleared["port_security_enabled"] is False


def test_the_filters_clients_send_find_ports(member, net):
    network, subnet = net
    a = create(member.client, "ports", "port", network_id=network["id"], name="a",
               device_id="dev-1")  # fmt: skip
    create(member.client, "ports", "port", network_id=network["id"], name="b")

    def names(query):
        return sorted(p["name"] for p in ok(member.client.get(f"{API}/ports?{query}"))["ports"])

    assert names(f"network_id={network['id']}") == ["a", "b"]
    assert names("device_id=dev-1") == ["a"]
    assert names(f"mac_address={a['mac_address']}") == ["a"]
    assert names("fixed_ips=ip_address=10.0.0.2") == ["a"]
    assert names("fixed_ips=ip_address=not-an-ip") == []
    assert names(f"fixed_ips=subnet_id={subnet['id']}") == ["a", "b"]
    assert names(f"security_groups={a['security_groups'][0]}") == ["a", "b"]
    assert names("status=DOWN&name=b") == ["b"]
    listed = ok(
        member.client.get(
            f"{API}/ports?fields=id&fields=name&fields=mac_address&fields=fixed_ips&fields=status"
        )
    )["ports"]
    assert {frozenset(p) for p in listed} == {
        frozenset({"id", "name", "mac_address", "fixed_ips", "status"})
    }


def test_admins_bind_ports_and_see_bindings(admin, member, net):
    network, _ = net
    response = member.client.post(
        f"{API}/ports",
        {"port": {"network_id": network["id"], "binding:host_id": "host-1"}},
        format="json",
    )
    neutron_error(response, 403, "PolicyNotAuthorized")
    port = create(
        admin.client, "ports", "port", network_id=network["id"], project_id=member.project.pk,
        **{"binding:host_id": "host-1"},
    )  # fmt: skip
    assert port["binding:host_id"] == "host-1"
    assert port["binding:vif_type"] == "bridge"
    assert port["project_id"] == member.project.pk
    seen = ok(member.client.get(f"{API}/ports/{port['id']}"))["port"]
    assert "binding:host_id" not in seen


def test_mac_addresses_are_unique_and_set_by_the_network_owner(member, net):
    network, _ = net
    port = create(
        member.client, "ports", "port", network_id=network["id"], mac_address="FA:16:3E:00:00:01"
    )
    assert port["mac_address"] == "fa:16:3e:00:00:01"
    response = member.client.post(
        f"{API}/ports",
        {"port": {"network_id": network["id"], "mac_address": "fa:16:3e:00:00:01"}},
        format="json",
    )
    neutron_error(response, 409, "MacAddressInUse")
    response = member.client.post(
        f"{API}/ports",
        {"port": {"network_id": network["id"], "mac_address": "zz:16:3e:00:00:01"}},
        format="json",
    )
    neutron_error(response, 400)


def test_a_port_on_another_projects_shared_network(admin, make_caller):
    # given: an admin's shared network
    shared = create(admin.client, "networks", "network", name="shared", shared=True)
    create(admin.client, "subnets", "subnet", network_id=shared["id"], cidr="10.9.0.0/24")
    other = make_caller("member")
    # when: another project makes a port on it
    port = create(other.client, "ports", "port", network_id=shared["id"])
    # then: it is theirs; they may not name an exact address (the network's owner may)
    assert port["project_id"] == other.project.pk
    response = other.client.post(
        f"{API}/ports",
        {"port": {"network_id": shared["id"], "fixed_ips": [{"ip_address": "10.9.0.50"}]}},
        format="json",
    )
    neutron_error(response, 403)
    # and the network cannot be unshared while they use it
    response = admin.client.put(
        f"{API}/networks/{shared['id']}", {"network": {"shared": False}}, format="json"
    )
    neutron_error(response, 409, "InvalidSharedSetting")

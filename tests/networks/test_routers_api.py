"""Routers and floating IPs through the API: gateways on external networks, interfaces by
subnet or port, floating IPs from an external subnet, associated through a router."""

import pytest

from apps.networks.models import FloatingIP, Port
from tests.networks.conftest import API, create, neutron_error, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(admin):
    """An external flat network with a subnet, as an operator makes it."""
    network = create(
        admin.client, "networks", "network", name="public",
        **{"router:external": True, "provider:network_type": "flat",
           "provider:physical_network": "public"},
    )  # fmt: skip
    subnet = create(
        admin.client, "subnets", "subnet", network_id=network["id"], cidr="203.0.113.0/24",
        allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.20"}],
    )  # fmt: skip
    return network, subnet


@pytest.fixture
def private(member):
    network = create(member.client, "networks", "network", name="private")
    subnet = create(
        member.client, "subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/24"
    )
    return network, subnet


def test_a_router_with_a_gateway_and_an_interface_on_a_subnet(member, public, private):
    network, subnet = private
    # when
    router = create(
        member.client, "routers", "router", name="r",
        external_gateway_info={"network_id": public[0]["id"]},
    )  # fmt: skip
    info = ok(
        member.client.put(
            f"{API}/routers/{router['id']}/add_router_interface",
            {"subnet_id": subnet["id"]},
            format="json",
        )
    )
    # then
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == public[0]["id"]
    assert gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"] == [
        {"subnet_id": public[1]["id"], "ip_address": "203.0.113.10"}
    ]
    assert info["id"] == router["id"]
    assert info["subnet_id"] == subnet["id"]
    assert info["subnet_ids"] == [subnet["id"]]
    assert info["network_id"] == network["id"]
    interface = ok(member.client.get(f"{API}/ports/{info['port_id']}"))["port"]
    assert interface["device_owner"] == "network:router_interface"
    assert interface["device_id"] == router["id"]
    assert interface["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.1"}]
    # the gateway's port is the service's: not among the project's ports
    listed = ok(member.client.get(f"{API}/ports"))["ports"]
    assert [p["id"] for p in listed] == [info["port_id"]]
    # twice on the same subnet: 400; the subnet is in use; the router too
    response = member.client.put(
        f"{API}/routers/{router['id']}/add_router_interface",
        {"subnet_id": subnet["id"]},
        format="json",
    )
    neutron_error(response, 400)
    neutron_error(member.client.delete(f"{API}/subnets/{subnet['id']}"), 409, "SubnetInUse")
    neutron_error(member.client.delete(f"{API}/routers/{router['id']}"), 409, "RouterInUse")
    neutron_error(member.client.delete(f"{API}/ports/{info['port_id']}"), 409, "ServicePortInUse")
    # removed: the interface port goes, then the router, then the subnet
    removed = ok(
        member.client.put(
            f"{API}/routers/{router['id']}/remove_router_interface",
            {"subnet_id": subnet["id"]},
            format="json",
        )
    )
    assert removed["port_id"] == info["port_id"]
    assert not Port.objects.filter(pk=info["port_id"]).exists()
    ok(member.client.delete(f"{API}/routers/{router['id']}"), 204)
    ok(member.client.delete(f"{API}/subnets/{subnet['id']}"), 204)
    assert not Port.objects.exists()


def test_an_interface_by_port_and_its_removal(member, private):
    network, subnet = private
    router = create(member.client, "routers", "router", name="r")
    assert router["external_gateway_info"] is None
    port = create(member.client, "ports", "port", network_id=network["id"],
                  fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.254"}])  # fmt: skip
    info = ok(
        member.client.put(
            f"{API}/routers/{router['id']}/add_router_interface",
            {"port_id": port["id"]},
            format="json",
        )
    )
    assert info["port_id"] == port["id"]
    shown = ok(member.client.get(f"{API}/ports/{port['id']}"))["port"]
    assert (shown["device_owner"], shown["device_id"]) == ("network:router_interface", router["id"])
    response = member.client.put(
        f"{API}/routers/{router['id']}/remove_router_interface",
        {"port_id": "6f1c9d61-0a4e-4a43-9a56-7f3c2b1e5a01"},
        format="json",
    )
    neutron_error(response, 404, "RouterInterfaceNotFound")
    ok(
        member.client.put(
            f"{API}/routers/{router['id']}/remove_router_interface",
            {"port_id": port["id"]},
            format="json",
        )
    )
    neutron_error(member.client.get(f"{API}/ports/{port['id']}"), 404)


def test_a_gateway_must_be_an_external_network_and_snat_is_for_admins(member, private):
    response = member.client.post(
        f"{API}/routers",
        {"router": {"external_gateway_info": {"network_id": private[0]["id"]}}},
        format="json",
    )
    neutron_error(response, 400)
    response = member.client.post(
        f"{API}/routers",
        {"router": {"external_gateway_info": {"network_id": private[0]["id"],
                                              "enable_snat": False}}},
        format="json",
    )  # fmt: skip
    neutron_error(response, 403)


def test_a_floating_ip_is_associated_through_a_router_and_released(member, public, private):
    network, subnet = private
    port = create(member.client, "ports", "port", network_id=network["id"])
    floating = create(member.client, "floatingips", "floatingip",
                      floating_network_id=public[0]["id"])  # fmt: skip
    assert floating["floating_ip_address"] == "203.0.113.10"
    assert floating["port_id"] is None
    assert floating["status"] == "DOWN"
    url = f"{API}/floatingips/{floating['id']}"
    # no router reaches the port's subnet from the public network: 404
    response = member.client.put(url, {"floatingip": {"port_id": port["id"]}}, format="json")
    neutron_error(response, 404, "ExternalGatewayForFloatingIPNotFound")
    router = create(member.client, "routers", "router",
                    external_gateway_info={"network_id": public[0]["id"]})  # fmt: skip
    ok(
        member.client.put(
            f"{API}/routers/{router['id']}/add_router_interface",
            {"subnet_id": subnet["id"]},
            format="json",
        )
    )
    associated = ok(member.client.put(url, {"floatingip": {"port_id": port["id"]}}, format="json"))[
        "floatingip"
    ]
    assert associated["port_id"] == port["id"]
    assert associated["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert associated["router_id"] == router["id"]
    assert associated["status"] == "ACTIVE"
    listed = ok(member.client.get(f"{API}/floatingips?port_id={port['id']}"))["floatingips"]
    assert [f["id"] for f in listed] == [floating["id"]]
    # the interface and the gateway it needs stay while it is associated
    response = member.client.put(
        f"{API}/routers/{router['id']}/remove_router_interface",
        {"subnet_id": subnet["id"]},
        format="json",
    )
    neutron_error(response, 409, "RouterInterfaceInUseByFloatingIP")
    response = member.client.put(
        f"{API}/routers/{router['id']}", {"router": {"external_gateway_info": None}}, format="json"
    )
    neutron_error(response, 409, "RouterExternalGatewayInUseByFloatingIp")
    # a second floating IP on the same fixed address: 409
    second = create(member.client, "floatingips", "floatingip",
                    floating_network_id=public[0]["id"])  # fmt: skip
    response = member.client.put(
        f"{API}/floatingips/{second['id']}", {"floatingip": {"port_id": port["id"]}},
        format="json",
    )  # fmt: skip
    neutron_error(response, 409, "FloatingIPPortAlreadyAssociated")
    # disassociated, then deleted: its address is free again
    freed = ok(member.client.put(url, {"floatingip": {"port_id": None}}, format="json"))
    assert freed["floatingip"]["port_id"] is None
    assert freed["floatingip"]["fixed_ip_address"] is None
    ok(member.client.delete(url), 204)
    assert FloatingIP.objects.count() == 1
    third = create(member.client, "floatingips", "floatingip",
                   floating_network_id=public[0]["id"])  # fmt: skip
    assert third["floating_ip_address"] == "203.0.113.10"


def test_deleting_a_port_disassociates_its_floating_ip(member, public, private):
    network, subnet = private
    router = create(member.client, "routers", "router",
                    external_gateway_info={"network_id": public[0]["id"]})  # fmt: skip
    ok(member.client.put(f"{API}/routers/{router['id']}/add_router_interface",
                         {"subnet_id": subnet["id"]}, format="json"))  # fmt: skip
    port = create(member.client, "ports", "port", network_id=network["id"])
    floating = create(member.client, "floatingips", "floatingip",
                      floating_network_id=public[0]["id"], port_id=port["id"])  # fmt: skip
    assert floating["port_id"] == port["id"]
    ok(member.client.delete(f"{API}/ports/{port['id']}"), 204)
    shown = ok(member.client.get(f"{API}/floatingips/{floating['id']}"))["floatingip"]
    assert (shown["port_id"], shown["fixed_ip_address"], shown["status"]) == (None, None, "DOWN")


def test_an_external_network_in_use_cannot_be_deleted(admin, member, public):
    create(
        member.client, "routers", "router", external_gateway_info={"network_id": public[0]["id"]}
    )
    neutron_error(admin.client.delete(f"{API}/networks/{public[0]['id']}"), 409, "NetworkInUse")


def test_a_floating_ip_needs_an_external_network(member, private):
    response = member.client.post(
        f"{API}/floatingips", {"floatingip": {"floating_network_id": private[0]["id"]}},
        format="json",
    )  # fmt: skip
    neutron_error(response, 400)
    assert not FloatingIP.objects.exists()


def test_an_empty_gateway_clears_it_and_its_port(member, public):
    router = create(member.client, "routers", "router",
                    external_gateway_info={"network_id": public[0]["id"]})  # fmt: skip
    cleared = ok(
        member.client.put(
            f"{API}/routers/{router['id']}",
            {"router": {"external_gateway_info": {}}},
            format="json",
        )
    )["router"]
    assert cleared["external_gateway_info"] is None
    assert not Port.objects.filter(device_owner="network:router_gateway").exists()
    moved = ok(
        member.client.put(
            f"{API}/routers/{router['id']}",
            {
                "router": {
                    "name": "renamed",
                    "external_gateway_info": {"network_id": public[0]["id"]},
                }
            },
            format="json",
        )
    )["router"]
    assert moved["name"] == "renamed"
    assert moved["external_gateway_info"]["network_id"] == public[0]["id"]

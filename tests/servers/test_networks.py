"""Servers on project networks through the whole control plane: the API, the conductor, the
scheduler and two compute workers on libvirt's test:///default whose network agents build
the networks in this machine's kernel (bridges, namespaces, dnsmasq, nftables) for real.

What a guest does with its network (DHCP, metadata, pings, floating IPs) needs real QEMU:
tests/e2e/test_networks_vm.py.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from apps.networks.models import Port
from apps.servers.models import InstanceActionEvent
from tests.cloud import Cloud
from tests.harness import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
NET = "/network/v2.0"


def _made(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:600])
    return response.json()


def network_with_subnet(client: Any, name: str, cidr: str) -> tuple[str, str]:
    net = _made(client.post(f"{NET}/networks", {"network": {"name": name}}, format="json"))
    subnet = _made(
        client.post(
            f"{NET}/subnets",
            {"subnet": {"network_id": net["network"]["id"], "cidr": cidr, "ip_version": 4}},
            format="json",
        )
    )
    return net["network"]["id"], subnet["subnet"]["id"]


def boot(cloud: Cloud, client: Any, name: str, networks: Any, expect: int = 202) -> Any:
    body = {
        "server": {"name": name, "imageRef": cloud.image_id, "flavorRef": "0", "networks": networks}
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == expect, response.content[:600]
    return response.json()["server"]["id"] if expect == 202 else response.json()


def ports_of(client: Any, server_id: str) -> list[dict[str, Any]]:
    return _made(client.get(f"{NET}/ports?device_id={server_id}"), 200)["ports"]


def test_a_server_on_a_network_gets_a_bound_port_and_shows_its_address(
    cloud: Cloud, member: Any, admin: Any
) -> None:
    net_id, subnet_id = network_with_subnet(member.client, "web", "10.231.7.0/24")
    server_id = boot(cloud, member.client, "on-net", [{"uuid": net_id}])
    body = cloud.wait_for_server(member.client, server_id, {"ACTIVE"})

    [port] = ports_of(member.client, server_id)
    [fixed] = port["fixed_ips"]
    assert fixed["subnet_id"] == subnet_id
    assert fixed["ip_address"].startswith("10.231.7.")
    assert port["device_owner"].startswith("compute:")
    assert port["status"] == "ACTIVE"
    admin_view = _made(admin.client.get(f"{NET}/ports/{port['id']}"), 200)["port"]
    shown = _made(admin.client.get(f"/compute/v2.1/servers/{server_id}", **V), 200)["server"]
    assert admin_view["binding:host_id"] == shown["OS-EXT-SRV-ATTR:host"]
    assert body["addresses"] == {
        "web": [
            {
                "version": 4,
                "addr": fixed["ip_address"],
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
            }
        ]
    }
    ips = _made(member.client.get(f"/compute/v2.1/servers/{server_id}/ips", **V), 200)
    assert ips["addresses"] == body["addresses"]
    [interface] = _made(
        member.client.get(f"/compute/v2.1/servers/{server_id}/os-interface", **V), 200
    )["interfaceAttachments"]
    assert interface == {
        "net_id": net_id,
        "port_id": port["id"],
        "mac_addr": port["mac_address"],
        "port_state": "ACTIVE",
        "fixed_ips": [{"subnet_id": subnet_id, "ip_address": fixed["ip_address"]}],
        "tag": None,
    }

    # Deleted: the port compute made goes, its address with it.
    assert member.client.delete(f"/compute/v2.1/servers/{server_id}", **V).status_code == 204
    cloud.wait_for_server(member.client, server_id, {"DELETED"})
    assert not Port.objects.filter(pk=port["id"]).exists()


def test_a_users_port_is_bound_then_given_back_not_deleted(cloud: Cloud, member: Any) -> None:
    net_id, _ = network_with_subnet(member.client, "mine", "10.231.8.0/24")
    port = _made(
        member.client.post(f"{NET}/ports", {"port": {"network_id": net_id}}, format="json")
    )["port"]
    server_id = boot(cloud, member.client, "with-port", [{"port": port["id"]}])
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    bound = _made(member.client.get(f"{NET}/ports/{port['id']}"), 200)["port"]
    assert (bound["device_id"], bound["status"]) == (server_id, "ACTIVE")

    # A port in use cannot be given to a second server.
    taken = boot(cloud, member.client, "thief", [{"port": port["id"]}], expect=409)
    assert "conflictingRequest" in taken

    assert member.client.delete(f"/compute/v2.1/servers/{server_id}", **V).status_code == 204
    cloud.wait_for_server(member.client, server_id, {"DELETED"})
    freed = _made(member.client.get(f"{NET}/ports/{port['id']}"), 200)["port"]
    assert (freed["device_id"], freed["device_owner"], freed["status"]) == ("", "", "DOWN")
    assert freed["fixed_ips"] == bound["fixed_ips"]


def test_auto_picks_the_projects_one_network_and_two_are_ambiguous(
    cloud: Cloud, member: Any
) -> None:
    net_id, _ = network_with_subnet(member.client, "only", "10.231.9.0/24")
    server_id = boot(cloud, member.client, "auto-1", "auto")
    body = cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    assert list(body["addresses"]) == ["only"]
    assert ports_of(member.client, server_id)[0]["network_id"] == net_id

    network_with_subnet(member.client, "second", "10.231.10.0/24")
    error = boot(cloud, member.client, "auto-2", "auto", expect=409)
    assert "conflictingRequest" in error
    none = boot(cloud, member.client, "none", "none")
    assert cloud.wait_for_server(member.client, none, {"ACTIVE"})["addresses"] == {}


def test_another_projects_network_or_port_answers_as_an_unknown_one(
    cloud: Cloud, member: Any, make_caller: Any
) -> None:
    other = make_caller()
    theirs, _ = network_with_subnet(other.client, "theirs", "10.231.11.0/24")
    their_port = _made(
        other.client.post(f"{NET}/ports", {"port": {"network_id": theirs}}, format="json")
    )["port"]["id"]
    made_up = "3f1e9a52-7b4c-4d7e-9a51-0c2d4e6f8a10"
    for field, foreign in (("uuid", theirs), ("port", their_port)):
        real = boot(cloud, member.client, "x", [{field: foreign}], expect=400)
        fake = boot(cloud, member.client, "x", [{field: made_up}], expect=400)
        assert real["badRequest"]["message"].replace(foreign, "ID") == fake["badRequest"][
            "message"
        ].replace(made_up, "ID")
    # Nothing was made or bound.
    assert _made(other.client.get(f"{NET}/ports/{their_port}"), 200)["port"]["device_id"] == ""


def test_malformed_networks_are_400s(cloud: Cloud, member: Any) -> None:
    net_id, _ = network_with_subnet(member.client, "m", "10.231.12.0/24")
    for networks in (
        [{"uuid": "a-b-c-d-e-f-g-h-i-j"}],
        [{"uuid": net_id, "fixed_ip": "not-an-ip"}],
        [{"uuid": net_id, "bogus": 1}],
        [{}],
        {"uuid": net_id},
        [{"uuid": net_id}] * 65,
        [{"uuid": net_id, "fixed_ip": "192.168.99.5"}],  # outside the network
    ):
        boot(cloud, member.client, "bad", networks, expect=400)


def test_a_full_pool_fails_the_build_with_a_fault_and_frees_nothing_else(
    cloud: Cloud, member: Any
) -> None:
    # A /29: 8 addresses, minus network, broadcast and gateway, is 5 for ports.
    net_id, _ = network_with_subnet(member.client, "small", "10.231.13.0/29")
    servers = [boot(cloud, member.client, f"s{i}", [{"uuid": net_id}]) for i in range(6)]
    bodies = [
        cloud.wait_for_server(member.client, s, {"ACTIVE", "ERROR"}, timeout=120) for s in servers
    ]
    statuses = sorted(b["status"] for b in bodies)
    assert statuses == ["ACTIVE"] * 5 + ["ERROR"]
    [failed] = [b for b in bodies if b["status"] == "ERROR"]
    assert "Failed to allocate the network(s)" in failed["fault"]["message"]
    assert ports_of(member.client, failed["id"]) == []
    addresses = {b["addresses"]["small"][0]["addr"] for b in bodies if b["status"] == "ACTIVE"}
    assert len(addresses) == 5


def test_the_host_plugs_the_port_into_its_network_bridge(
    cloud: Cloud, member: Any, admin: Any
) -> None:
    """With test:///default no tap exists, but the host's agent has built the network: its
    bridge, its namespace with the gateway, and dnsmasq serving the port's address."""
    net_id, _ = network_with_subnet(member.client, "plugged", "10.231.14.0/24")
    server_id = boot(cloud, member.client, "plugged", [{"uuid": net_id}])
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    [port] = ports_of(member.client, server_id)
    host = _made(admin.client.get(f"{NET}/ports/{port['id']}"), 200)["port"]["binding:host_id"]
    network = cloud.processes.networks[host]
    bridge = f"ccbr-{net_id[:8]}"

    def served() -> bool:
        files = [f for f in network.state_dir.glob("**/*") if f.is_file()]
        return any(port["mac_address"] in f.read_text(errors="replace") for f in files)

    wait_until(served, timeout=30, interval=0.2, what="the port's DHCP entry on its host")
    links = json.loads(
        subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout
    )
    assert any(link["ifname"] == bridge for link in links)


def test_interface_attach_fails_cleanly_where_the_hypervisor_cannot_hot_plug(
    cloud: Cloud, member: Any
) -> None:
    """test:///default has no hot-plug: the host reports the failure, the conductor gives the
    new port back and the action says so. (Real hot-plug: tests/e2e.)"""
    net_id, _ = network_with_subnet(member.client, "att", "10.231.15.0/24")
    server_id = boot(cloud, member.client, "att", "none")
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    response = member.client.post(
        f"/compute/v2.1/servers/{server_id}/os-interface",
        {"interfaceAttachment": {"net_id": net_id}},
        format="json",
        **V,
    )
    attachment = _made(response, 200)["interfaceAttachment"]
    assert attachment["net_id"] == net_id
    assert attachment["port_state"] in ("DOWN", "BUILD")

    def given_back() -> bool:
        return not Port.objects.filter(pk=attachment["port_id"]).exists()

    wait_until(given_back, timeout=30, interval=0.2, what="the failed attach's port removed")
    event = InstanceActionEvent.objects.get(
        action__server__uuid=server_id, event="compute_attach_interface"
    )
    assert event.result == "Error"


def test_os_interface_as_an_attacker(cloud: Cloud, member: Any, make_caller: Any) -> None:
    net_id, _ = network_with_subnet(member.client, "own", "10.231.16.0/24")
    server_id = boot(cloud, member.client, "target", [{"uuid": net_id}])
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    [port] = ports_of(member.client, server_id)
    url = f"/compute/v2.1/servers/{server_id}/os-interface"

    other = make_caller()
    assert other.client.get(url, **V).status_code == 404
    assert other.client.get(f"{url}/{port['id']}", **V).status_code == 404
    assert other.client.delete(f"{url}/{port['id']}", **V).status_code == 404
    reader = make_caller("reader", project=member.project)
    assert reader.client.get(url, **V).status_code == 200
    assert reader.client.post(url, {}, format="json", **V).status_code == 403
    assert reader.client.delete(f"{url}/{port['id']}", **V).status_code == 403
    # A port that is not the server's is a 404 whether it exists or not.
    their_net, _ = network_with_subnet(other.client, "theirs", "10.231.17.0/24")
    their_port = _made(
        other.client.post(f"{NET}/ports", {"port": {"network_id": their_net}}, format="json")
    )["port"]["id"]
    assert member.client.get(f"{url}/{their_port}", **V).status_code == 404
    assert member.client.delete(f"{url}/{their_port}", **V).status_code == 404
    attach = member.client.post(
        url, {"interfaceAttachment": {"port_id": their_port}}, format="json", **V
    )
    assert attach.status_code == 404, attach.content
    for body in (
        {"interfaceAttachment": {"net_id": net_id, "port_id": port["id"]}},
        {"interfaceAttachment": {"net_id": "nope"}},
        {"interfaceAttachment": {"fixed_ips": [{"ip_address": "x"}]}},
        {"interfaceAttachment": {"net_id": net_id, "tag": "t"}},  # tags need 2.49
    ):
        version = {"HTTP_OPENSTACK_API_VERSION": "compute 2.48"}
        assert member.client.post(url, body, format="json", **version).status_code == 400
    assert ports_of(member.client, server_id) == [port]


def test_a_resize_moves_the_ports_binding_and_a_revert_brings_it_back(
    cloud: Cloud, member: Any, admin: Any
) -> None:
    net_id, _ = network_with_subnet(member.client, "moving", "10.231.18.0/24")
    server_id = boot(cloud, member.client, "mover", [{"uuid": net_id}])
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    [port] = ports_of(member.client, server_id)

    def bound_host() -> str:
        return _made(admin.client.get(f"{NET}/ports/{port['id']}"), 200)["port"]["binding:host_id"]

    def server_host() -> str:
        shown = _made(admin.client.get(f"/compute/v2.1/servers/{server_id}", **V), 200)
        return shown["server"]["OS-EXT-SRV-ATTR:host"]

    source = server_host()
    assert bound_host() == source
    # The source host disabled: the resize must move the server to the other one.
    [service] = [
        s
        for s in _made(admin.client.get("/compute/v2.1/os-services", **V), 200)["services"]
        if s["host"] == source and s["binary"] == "nova-compute"
    ]
    status_url = f"/compute/v2.1/os-services/{service['id']}"
    disable = {"status": "disabled", "disabled_reason": "make the resize move"}
    assert admin.client.put(status_url, disable, format="json", **V).status_code == 200
    try:
        resize = {"resize": {"flavorRef": "1"}}
        response = member.client.post(
            f"/compute/v2.1/servers/{server_id}/action", resize, format="json", **V
        )
        assert response.status_code == 202, response.content
        cloud.wait_for_server(member.client, server_id, {"VERIFY_RESIZE"})
    finally:
        enable = {"status": "enabled"}
        assert admin.client.put(status_url, enable, format="json", **V).status_code == 200
    destination = server_host()
    assert destination != source
    assert bound_host() == destination

    revert = {"revertResize": None}
    response = member.client.post(
        f"/compute/v2.1/servers/{server_id}/action", revert, format="json", **V
    )
    assert response.status_code == 202, response.content
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    assert server_host() == source
    assert bound_host() == source
    assert [p["id"] for p in ports_of(member.client, server_id)] == [port["id"]]

"""A router: its subnets reach the outside through SNAT to its external address; a floating
IP takes the outside to its guest (DNAT) and is the guest's address outside."""

import http.server
import logging
import socket
import threading
from pathlib import Path
from typing import Any

from tests.workers.network import kit


class _WhoAmI(http.server.BaseHTTPRequestHandler):
    """The outside: answers each request with the address it came from."""

    def do_GET(self) -> None:
        body = self.client_address[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_snat_takes_guests_out_and_a_floating_ip_brings_the_outside_in(
    lab_factory, udhcpc_script: Path, caplog
) -> None:
    # given the world: a bridge where the host holds 10.235.9.1, and a server there
    lab, agent = lab_factory("t5r")
    lab.extra_links.append(("t5rworld", None))
    kit.run(["ip", "link", "add", "t5rworld", "type", "bridge"])
    kit.run(["ip", "addr", "add", "10.235.9.1/24", "dev", "t5rworld"])
    kit.run(["ip", "link", "set", "t5rworld", "up"])
    world = http.server.ThreadingHTTPServer(("10.235.9.1", 0), _WhoAmI)
    lab.servers.append(world)
    threading.Thread(target=world.serve_forever, daemon=True).start()
    world_url = f"http://10.235.9.1:{world.server_address[1]}/"
    # and a network with two guests behind a router, the second with a floating IP
    net = kit.network("t5r", [kit.subnet("10.235.1.0/24", "10.235.1.1")], vni=2351)
    plain = kit.port(net, "10.235.1.10", rules=kit.DEFAULT_GROUP)
    exposed = kit.port(
        net,
        "10.235.1.11",
        rules=[
            *kit.DEFAULT_GROUP,
            kit.ingress("tcp", 8000, 8000, ["0.0.0.0/0"]),
            kit.ingress("icmp", remote=["0.0.0.0/0"]),
        ],
    )
    rtr = kit.router(
        "t5r",
        interfaces=[
            {"network_id": net["id"], "subnet_id": net["subnets"][0]["id"], "cidr": "10.235.1.0/24"}
        ],
        external_network_id=kit.new_id(),
        external_bridge="t5rworld",
        external_address="10.235.9.10/24",
        external_gateway="10.235.9.1",
        enable_snat=True,
        floating_ips=[{"floating_ip_address": "10.235.9.20", "fixed_ip_address": "10.235.1.11"}],
    )
    state = {"networks": [net], "ports": [plain, exposed], "routers": [rtr]}
    agent.apply(state)
    # (applied again, it changes nothing: its summary is all it says)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="workers.network"):
        agent.apply(state)
    assert [r.getMessage() for r in caplog.records] == [
        "host networks applied: 1 networks, 2 ports, 1 routers"
    ]
    plain_guest = lab.guest(plain, net["bridge"], "p")
    exposed_guest = lab.guest(exposed, net["bridge"], "e")
    plain_guest.dhcp(udhcpc_script)
    exposed_guest.dhcp(udhcpc_script)
    exposed_guest.listen(8000)

    # then a guest without floating IP reaches the world as the router's external address
    assert plain_guest.http_get(world_url) == (200, "10.235.9.10")
    # and one with a floating IP as that address
    assert exposed_guest.http_get(world_url) == (200, "10.235.9.20")
    # and the world reaches the floating IP: a ping, and the guest's TCP port
    assert (
        kit.run(["busybox", "ping", "-c", "1", "-W", "2", "10.235.9.20"], check=False).returncode
        == 0
    )
    with socket.create_connection(("10.235.9.20", 8000), timeout=5) as conn:
        assert conn.recv(100).decode() == f"{exposed_guest.ns} 10.235.9.1"
    # but not the guest without one, nor ports the rules keep closed
    assert (
        kit.run(["busybox", "ping", "-c", "1", "-W", "1", "10.235.1.10"], check=False).returncode
        != 0
    )
    exposed_guest.listen(8001)
    try:
        socket.create_connection(("10.235.9.20", 8001), timeout=1.5).close()
        reached = True
    except OSError:
        reached = False
    assert not reached


def test_a_router_removed_takes_its_namespace_and_gateway_veth(lab_factory) -> None:
    # given a router with an external gateway
    lab, agent = lab_factory("t5x")
    lab.extra_links.append(("t5xworld", None))
    kit.run(["ip", "link", "add", "t5xworld", "type", "bridge"])
    net = kit.network("t5x", [kit.subnet("10.235.2.0/24", "10.235.2.1")], vni=2352)
    rtr = kit.router(
        "t5x",
        interfaces=[
            {"network_id": net["id"], "subnet_id": net["subnets"][0]["id"], "cidr": "10.235.2.0/24"}
        ],
        external_bridge="t5xworld",
        external_address="10.235.8.10/24",
        external_gateway="10.235.8.1",
    )
    agent.apply({"networks": [net], "ports": [], "routers": [rtr]})
    net_ns = agent.names.network_ns(net["id"])
    assert "default via 169.254.0.1" in kit.run(["ip", "-n", net_ns, "route"]).stdout

    # when the state no longer has it
    agent.apply({"networks": [net], "ports": [], "routers": []})

    # then its namespace, its veth on the world bridge and the network's default route are gone
    namespaces = kit.run(["ip", "netns", "list"]).stdout
    assert agent.names.router_ns(rtr["id"]) not in namespaces
    assert agent.names.ext_bridge_end(rtr["id"]) not in kit.run(["ip", "link"]).stdout
    assert "default" not in kit.run(["ip", "-n", net_ns, "route"]).stdout

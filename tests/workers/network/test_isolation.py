"""Two projects' networks on one host: their guests cannot reach each other, nor any address
of the host; in their network's namespace they reach DHCP, metadata and a ping of the gateway
only."""

import socket
import subprocess
import sys
from pathlib import Path

from tests.workers.network import kit


def _host_listener(address: str) -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen(8)
    return sock, sock.getsockname()[1]


def test_guests_of_two_networks_reach_neither_each_other_nor_the_host(
    lab_factory, metadata_service, udhcpc_script: Path
) -> None:
    # given two networks of two projects, a guest on each (ingress open to anyone), a host
    # listener on 127.0.0.1 and one on an address of another host bridge
    lab, agent = lab_factory("t3i", metadata_url=metadata_service.url)
    red = kit.network("t3i", [kit.subnet("10.233.1.0/24", "10.233.1.1")], vni=2331)
    blue = kit.network("t3i", [kit.subnet("10.233.2.0/24", "10.233.2.1")], vni=2332)
    open_to_all = [*kit.DEFAULT_GROUP, kit.ingress(None, remote=["0.0.0.0/0"])]
    red_port = kit.port(red, "10.233.1.10", rules=open_to_all)
    blue_port = kit.port(blue, "10.233.2.10", rules=open_to_all)
    agent.apply({"networks": [red, blue], "ports": [red_port, blue_port], "routers": []})
    red_guest = lab.guest(red_port, red["bridge"], "r")
    blue_guest = lab.guest(blue_port, blue["bridge"], "b")
    red_guest.dhcp(udhcpc_script)
    blue_guest.dhcp(udhcpc_script)
    blue_guest.listen(8080)
    lab.extra_links.append(("t3ihostbr", None))
    kit.run(["ip", "link", "add", "t3ihostbr", "type", "bridge"])
    kit.run(["ip", "addr", "add", "10.233.9.1/24", "dev", "t3ihostbr"])
    kit.run(["ip", "link", "set", "t3ihostbr", "up"])
    loopback, loopback_port = _host_listener("127.0.0.1")
    bridged, bridged_port = _host_listener("10.233.9.1")
    # and a service in the red network's namespace, on its gateway address
    namespace = agent.names.network_ns(red["id"])
    service = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c",
         "import socket,time; s=socket.socket(); s.bind(('10.233.1.1', 8081)); s.listen(1); "
         "print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert service.stdout is not None
        assert service.stdout.readline().strip() == "ready"

        # then what a guest may reach, it reaches
        assert red_guest.pings("10.233.1.1")
        status, _ = red_guest.http_get("http://169.254.169.254/latest/meta-data/")
        assert status == 200
        # and nothing else: the other project's guest, the host, the namespace's services
        assert not red_guest.pings("10.233.2.10")
        assert not red_guest.connects("10.233.2.10", 8080)
        assert not red_guest.connects("10.233.2.1", 8080)
        assert not red_guest.connects("127.0.0.1", loopback_port)
        assert not red_guest.connects("10.233.9.1", bridged_port)
        assert not red_guest.pings("10.233.9.1")
        assert not red_guest.connects("10.233.1.1", 8081)
        # the blue guest's listener works for its own network's namespace (sanity of the test)
        assert kit.run(
            ["ip", "netns", "exec", agent.names.network_ns(blue["id"]), sys.executable, "-c",
             "import socket; socket.create_connection(('10.233.2.10', 8080), timeout=3)"],
            check=False,
        ).returncode == 0  # fmt: skip
    finally:
        service.kill()
        service.wait()
        loopback.close()
        bridged.close()

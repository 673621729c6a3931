"""A guest gets its fixed address from its network's dnsmasq; ports added later are served
after a SIGHUP, the same dnsmasq still running."""

from pathlib import Path

from tests.workers.network import kit
from workers.network import process
from workers.network.dhcp import DnsmasqFiles


def _dnsmasq_pid(agent, net) -> int | None:  # type: ignore[no-untyped-def]
    ns = agent.names.network_ns(net["id"])
    return process.read_pid(DnsmasqFiles(agent.config.state_dir / ns).pid)


def test_guest_gets_its_fixed_address_and_a_later_port_is_served_by_the_same_dnsmasq(
    lab_factory, udhcpc_script: Path
) -> None:
    # given a network with one port, applied
    lab, agent = lab_factory("t1d")
    net = kit.network("t1d", [kit.subnet("10.231.1.0/24", "10.231.1.1")], vni=2311)
    first = kit.port(net, "10.231.1.17", rules=kit.DEFAULT_GROUP)
    agent.apply({"networks": [net], "ports": [first], "routers": []})
    guest = lab.guest(first, net["bridge"], "a")

    # when the guest asks
    lease = guest.dhcp(udhcpc_script)

    # then it gets its fixed address, the gateway and the network's MTU
    assert lease["ip"] == "10.231.1.17"
    assert lease["mask"] == "24"
    assert lease["router"] == "10.231.1.1"
    assert lease["mtu"] == "1450"
    pid = _dnsmasq_pid(agent, net)
    assert pid is not None

    # when a second port is plugged (the compute worker's hot path)
    second = kit.port(net, "10.231.1.18", rules=kit.DEFAULT_GROUP)
    agent.plug_port(net, second)
    other = lab.guest(second, net["bridge"], "b")

    # then it is served by the same dnsmasq (re-read its hosts file, not restarted)
    assert other.dhcp(udhcpc_script)["ip"] == "10.231.1.18"
    assert _dnsmasq_pid(agent, net) == pid
    assert guest.pings("10.231.1.1")  # the gateway answers pings


def test_a_subnet_without_gateway_gets_a_route_to_the_metadata_address(
    lab_factory, udhcpc_script: Path
) -> None:
    # given a subnet without gateway
    lab, agent = lab_factory("t1g")
    net = kit.network("t1g", [kit.subnet("10.231.2.0/24", None)], vni=2312)
    only = kit.port(net, "10.231.2.9")
    agent.apply({"networks": [net], "ports": [only], "routers": []})
    guest = lab.guest(only, net["bridge"], "a")

    # when the guest asks
    lease = guest.dhcp(udhcpc_script)

    # then no router, and a static route to 169.254.169.254 via the namespace's address
    assert lease["ip"] == "10.231.2.9"
    assert lease["router"] == ""
    assert lease["staticroutes"] == "169.254.169.254/32 10.231.2.254"


def test_a_port_unplugged_is_no_longer_served(lab_factory, udhcpc_script: Path) -> None:
    # given two ports served
    lab, agent = lab_factory("t1u")
    net = kit.network("t1u", [kit.subnet("10.231.3.0/24", "10.231.3.1")], vni=2313)
    kept, gone = kit.port(net, "10.231.3.5"), kit.port(net, "10.231.3.6")
    agent.apply({"networks": [net], "ports": [kept, gone], "routers": []})

    # when one is unplugged
    agent.unplug_port(gone["id"])

    # then its line left the hosts file; the other's stays
    hosts = (agent.config.state_dir / agent.names.network_ns(net["id"]) / "dhcp-hosts").read_text()
    assert gone["mac_address"] not in hosts
    assert f"{kept['mac_address']},10.231.3.5," in hosts
    stranger = lab.guest(gone, net["bridge"], "x")
    out = stranger.exec(
        "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "2", "-T", "1",
        "-s", str(udhcpc_script), check=False,
    )  # fmt: skip
    assert "LEASE" not in out.stdout

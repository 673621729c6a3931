"""Security groups on the host: default drop for a filtered port, egress open and ingress
from the group's members (the default group), a rule added or removed on the running port
without touching the guest, and no spoofed source address leaving a port."""

import copy
import json

from tests.workers.network import kit


def _members_only(addresses: list[str]) -> list:  # type: ignore[type-arg]
    return [*kit.DEFAULT_GROUP, kit.ingress(None, remote=[f"{a}/32" for a in addresses])]


def test_default_group_then_a_rule_added_and_removed_on_the_running_port(lab_factory) -> None:
    # given A and B in the default group (ingress from its members), C in another group
    lab, agent = lab_factory("t4s")
    net = kit.network("t4s", [kit.subnet("10.234.1.0/24", "10.234.1.1")], vni=2341)
    members = ["10.234.1.10", "10.234.1.11"]
    a = kit.port(net, "10.234.1.10", rules=_members_only(members))
    b = kit.port(net, "10.234.1.11", rules=_members_only(members))
    c = kit.port(net, "10.234.1.12", rules=kit.DEFAULT_GROUP)
    agent.apply({"networks": [net], "ports": [a, b, c], "routers": []})
    guests = {}
    for name, port in (("a", a), ("b", b), ("c", c)):
        guests[name] = lab.guest(port, net["bridge"], name)
        guests[name].configure(port["fixed_ips"][0]["ip_address"] + "/24", "10.234.1.1")
    listener = guests["a"].listen(8000)
    guests["b"].listen(8001)
    guests["c"].listen(8002)
    eth0 = json.loads(guests["a"].exec("ip", "-j", "link", "show", "eth0").stdout)[0]["ifindex"]

    # then members reach each other, the other group does not get in, egress is open
    assert guests["b"].connects("10.234.1.10", 8000)
    assert guests["a"].connects("10.234.1.11", 8001)
    assert not guests["c"].connects("10.234.1.10", 8000)
    assert not guests["a"].connects("10.234.1.12", 8002)  # C's ingress: nobody
    assert guests["c"].pings("10.234.1.1")  # egress (the gateway answers)

    # when A's group gets a TCP rule for port 8000 from anywhere (the running port)
    opened = copy.deepcopy(a)
    opened["security_rules"] = [
        *_members_only(members),
        kit.ingress("tcp", 8000, 8000, ["0.0.0.0/0"]),
    ]
    agent.plug_port(net, opened)

    # then C gets in, and only on that port
    assert guests["c"].connects("10.234.1.10", 8000)
    assert not guests["c"].pings("10.234.1.10")

    # and a spoofed source address does not leave C's port
    guests["c"].exec("ip", "addr", "add", "10.234.1.99/24", "dev", "eth0")
    assert not guests["c"].connects("10.234.1.10", 8000, source="10.234.1.99")

    # when the rule is removed again, C is blocked again
    agent.plug_port(net, a)
    assert not guests["c"].connects("10.234.1.10", 8000)
    assert guests["b"].connects("10.234.1.10", 8000)

    # and the guest was never touched: its listener and its interface are the same
    assert listener.poll() is None
    after = json.loads(guests["a"].exec("ip", "-j", "link", "show", "eth0").stdout)[0]["ifindex"]
    assert after == eth0


def test_a_port_without_port_security_is_not_filtered(lab_factory) -> None:
    # given a port with security_rules None next to a filtered one
    lab, agent = lab_factory("t4n")
    net = kit.network("t4n", [kit.subnet("10.234.2.0/24", "10.234.2.1")], vni=2342)
    free = kit.port(net, "10.234.2.10", rules=None)
    filtered = kit.port(net, "10.234.2.11", rules=kit.DEFAULT_GROUP)
    agent.apply({"networks": [net], "ports": [free, filtered], "routers": []})
    free_guest = lab.guest(free, net["bridge"], "f")
    filtered_guest = lab.guest(filtered, net["bridge"], "x")
    free_guest.configure("10.234.2.10/24")
    filtered_guest.configure("10.234.2.11/24")
    free_guest.listen(8000)

    # then anyone reaches it, and it may send from an address that is no port's
    assert filtered_guest.connects("10.234.2.10", 8000)
    free_guest.exec("ip", "addr", "add", "10.234.2.50/24", "dev", "eth0")
    assert free_guest.exec("busybox", "ping", "-c", "1", "-W", "2", "-I", "10.234.2.50",
                           "10.234.2.1", check=False).returncode == 0  # fmt: skip
    assert (
        "tap" + free["id"][:11] not in kit.run(["nft", "list", "table", "bridge", "t4nsg"]).stdout
    )

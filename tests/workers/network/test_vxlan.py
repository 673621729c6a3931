"""One network across two hosts: two namespaces stand for the hosts, joined by a veth (the
underlay); each runs its own agent in its own namespace (`host_netns`); guests on each get
their lease from their own host and ping each other through VXLAN."""

from pathlib import Path

from tests.workers.network import kit
from workers.network.names import gateway_mac


def test_guests_on_two_hosts_of_one_network_ping_each_other_through_vxlan(
    lab_factory, udhcpc_script: Path
) -> None:
    # given two hosts joined by an underlay
    lab_a, agent_a = lab_factory("t6a", host_netns="t6ahost", tunnel_ip="10.236.0.1")
    lab_b, agent_b = lab_factory("t6b", host_netns="t6bhost", tunnel_ip="10.236.0.2")
    lab_a.extra_namespaces.append("t6ahost")
    lab_b.extra_namespaces.append("t6bhost")
    kit.run(["ip", "netns", "add", "t6ahost"])
    kit.run(["ip", "netns", "add", "t6bhost"])
    kit.run(["ip", "-n", "t6ahost", "link", "add", "t6aul", "type", "veth", "peer", "name",
             "t6bul", "netns", "t6bhost"])  # fmt: skip
    for ns, dev, address in (
        ("t6ahost", "t6aul", "10.236.0.1/24"),
        ("t6bhost", "t6bul", "10.236.0.2/24"),
    ):
        kit.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        kit.run(["ip", "-n", ns, "addr", "add", address, "dev", dev])
        kit.run(["ip", "-n", ns, "link", "set", dev, "up"])
    # and one network with a guest on each, each host knowing the other as a tunnel end
    net = kit.network("t6n", [kit.subnet("10.236.1.0/24", "10.236.1.1")], vni=2361)
    rules = [*kit.DEFAULT_GROUP, kit.ingress(None, remote=["10.236.1.0/24"])]
    port_a = kit.port(net, "10.236.1.10", rules=rules)
    port_b = kit.port(net, "10.236.1.11", rules=rules)
    agent_a.apply(
        {"networks": [{**net, "remote_vteps": ["10.236.0.2"]}], "ports": [port_a], "routers": []}
    )
    # (host B learns of it on the hot path: the network and the port of its guest)
    agent_b.plug_port({**net, "remote_vteps": ["10.236.0.1"]}, port_b)
    guest_a = lab_a.guest(port_a, net["bridge"], "x")
    guest_b = lab_b.guest(port_b, net["bridge"], "y")

    # when each asks for its lease
    lease_a = guest_a.dhcp(udhcpc_script)
    lease_b = guest_b.dhcp(udhcpc_script)

    # then each got its own, and they ping each other through the tunnel
    assert (lease_a["ip"], lease_b["ip"]) == ("10.236.1.10", "10.236.1.11")
    assert guest_a.pings("10.236.1.11")
    assert guest_b.pings("10.236.1.10")
    # the flood entries name the other host; the gateway stays local to each host
    fdb = kit.run(["ip", "netns", "exec", "t6ahost", "bridge", "fdb", "show", "dev",
                   agent_a.names.vxlan(net["id"])]).stdout  # fmt: skip
    assert "00:00:00:00:00:00 dst 10.236.0.2" in fdb
    assert guest_a.pings("10.236.1.1")
    learned = kit.run(["ip", "netns", "exec", "t6ahost", "bridge", "fdb", "show", "dev",
                       agent_a.names.vxlan(net["id"])]).stdout  # fmt: skip
    assert gateway_mac(net["id"]) not in learned

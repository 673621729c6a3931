"""Two agents' tables on one host: what one agent leaves in the kernel (a compute worker
killed before it could clear its networks, or a second worker with its own prefix) never
judges the other's traffic.

The packet mark that says which port a frame comes from and goes to is the host's, not
the agent's: an agent's filter chains read it only on frames of its own bridges."""

from tests.workers.network import kit


def test_another_agents_tables_do_not_filter_this_agents_ports(lab_factory) -> None:
    # given the tables of an agent whose ports accept nothing but each other (its worker
    # gone without clearing them), built first so its port numbers are taken
    _, stale = lab_factory("t5o")
    theirs = kit.network("t5o", [kit.subnet("10.236.2.0/24", "10.236.2.1")], vni=2362)
    members = [kit.ingress(None, remote=["10.236.2.10/32", "10.236.2.11/32"])]
    stale.apply(
        {
            "networks": [theirs],
            "ports": [
                kit.port(theirs, "10.236.2.10", rules=[*kit.DEFAULT_GROUP, *members]),
                kit.port(theirs, "10.236.2.11", rules=[*kit.DEFAULT_GROUP, *members]),
            ],
            "routers": [],
        }
    )
    # and this agent's two guests, open to anyone
    lab, agent = lab_factory("t5n")
    ours = kit.network("t5n", [kit.subnet("10.236.1.0/24", "10.236.1.1")], vni=2361)
    open_to_all = [*kit.DEFAULT_GROUP, kit.ingress(None, remote=["0.0.0.0/0"])]
    a = kit.port(ours, "10.236.1.10", rules=open_to_all)
    b = kit.port(ours, "10.236.1.11", rules=open_to_all)
    agent.apply({"networks": [ours], "ports": [a, b], "routers": []})
    guest_a = lab.guest(a, ours["bridge"], "a")
    guest_b = lab.guest(b, ours["bridge"], "b")
    guest_a.configure("10.236.1.10/24", "10.236.1.1")
    guest_b.configure("10.236.1.11/24", "10.236.1.1")
    guest_a.listen(8000)
    guest_b.listen(8001)

    # then this agent's guests reach each other both ways, whatever the other tables say
    assert guest_b.connects("10.236.1.10", 8000)
    assert guest_a.connects("10.236.1.11", 8001)
    assert guest_a.pings("10.236.1.11")

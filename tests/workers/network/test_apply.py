"""apply() is declarative: it rebuilds everything after a reboot emptied the kernel, changes
nothing when run again, removes what left the state, and never touches what is not its own."""

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.workers.network import kit
from workers.network import process


def _snapshot(agent: Any, nets: list[dict[str, Any]]) -> dict[str, Any]:
    """What a restart or a re-creation would change: daemons' pids, links' indexes, tables."""
    state: dict[str, Any] = {}
    for net in nets:
        ns = agent.names.network_ns(net["id"])
        directory = agent.config.state_dir / ns
        state[ns] = {
            "dnsmasq": process.read_pid(directory / "dnsmasq.pid"),
            "proxy": process.read_pid(directory / "metadata-proxy.pid"),
            "links": {
                link["ifname"]: link["ifindex"]
                for link in json.loads(kit.run(["ip", "-n", ns, "-j", "link"]).stdout)
            },
        }
    state["host"] = {
        link["ifname"]: link["ifindex"] for link in json.loads(kit.run(["ip", "-j", "link"]).stdout)
    }
    state["tables"] = kit.run(
        ["nft", "-a", "list", "table", "inet", f"{agent.config.prefix}sg"]
    ).stdout
    return state


def _reboot(lab: kit.Lab, agent: Any) -> None:
    """What a host reboot leaves: nothing in the kernel, no daemons (files in a tmpfs go too,
    but the agent must not rely on that)."""
    for pid_file in agent.config.state_dir.glob("*/*.pid"):
        pid = process.ours(pid_file)
        if pid:
            os.kill(pid, signal.SIGKILL)
    prefix = agent.config.prefix
    for entry in json.loads(kit.run(["ip", "-j", "netns", "list"]).stdout):
        if entry["name"].startswith(f"{prefix}net-") or entry["name"].startswith(f"{prefix}rtr-"):
            kit.run(["ip", "netns", "del", entry["name"]])
    for link in json.loads(kit.run(["ip", "-j", "-d", "link"]).stdout):
        if link["ifname"].startswith(prefix) or (link.get("ifalias") or "").startswith(prefix):
            kit.run(["ip", "link", "del", link["ifname"]], check=False)
    for family in ("bridge", "inet"):
        kit.run(["nft", "delete", "table", family, f"{prefix}sg"])


def test_apply_rebuilds_after_a_reboot_and_then_changes_nothing(
    lab_factory, udhcpc_script: Path
) -> None:
    # given a host's networks applied, then a reboot (everything in the kernel gone)
    lab, agent = lab_factory("t7r")
    net = kit.network("t7r", [kit.subnet("10.237.1.0/24", "10.237.1.1")], vni=2371)
    guest_port = kit.port(net, "10.237.1.10", rules=kit.DEFAULT_GROUP)
    state = {"networks": [net], "ports": [guest_port], "routers": []}
    agent.apply(state)
    _reboot(lab, agent)

    # when the agent applies the same state at start
    agent.apply(state)

    # then a guest gets its lease and its filter holds again
    guest = lab.guest(guest_port, net["bridge"], "a")
    assert guest.dhcp(udhcpc_script)["ip"] == "10.237.1.10"
    tables = kit.run(["nft", "list", "table", "inet", "t7rsg"]).stdout
    assert "egress_1" in tables
    before = _snapshot(agent, [net])

    # when it applies again
    agent.apply(state)

    # then nothing was restarted or re-created
    assert _snapshot(agent, [net]) == before
    assert all(before[agent.names.network_ns(net["id"])][d] for d in ("dnsmasq", "proxy"))


def test_apply_removes_what_left_the_state_and_nothing_else(lab_factory) -> None:
    # given two networks applied, another agent's network, and a bridge of the host's own
    lab, agent = lab_factory("t7x")
    _, other = lab_factory("t7y")
    kept = kit.network("t7x", [kit.subnet("10.237.2.0/24", "10.237.2.1")], vni=2372)
    gone = kit.network("t7x", [kit.subnet("10.237.3.0/24", "10.237.3.1")], vni=2373)
    theirs = kit.network("t7y", [kit.subnet("10.237.4.0/24", "10.237.4.1")], vni=2374)
    gone_port = kit.port(gone, "10.237.3.5", rules=kit.DEFAULT_GROUP)
    agent.apply({"networks": [kept, gone], "ports": [gone_port], "routers": []})
    other.apply({"networks": [theirs], "ports": [], "routers": []})
    lab.extra_links.append(("t7xhostbr", None))
    kit.run(["ip", "link", "add", "t7xhostbr", "type", "bridge"])
    gone_ns = agent.names.network_ns(gone["id"])
    gone_pids = [
        process.read_pid(agent.config.state_dir / gone_ns / name)
        for name in ("dnsmasq.pid", "metadata-proxy.pid")
    ]

    # when the state loses one network (and its port)
    agent.apply({"networks": [kept], "ports": [], "routers": []})

    # then that network's bridge, vxlan, namespace, daemons and filters are gone
    links = {link["ifname"] for link in json.loads(kit.run(["ip", "-j", "link"]).stdout)}
    namespaces = {n["name"] for n in json.loads(kit.run(["ip", "-j", "netns", "list"]).stdout)}
    assert gone["bridge"] not in links
    assert agent.names.vxlan(gone["id"]) not in links
    assert gone_ns not in namespaces
    assert all(pid is not None and process.cmdline(pid) is None for pid in gone_pids)
    assert "egress_" not in kit.run(["nft", "list", "table", "inet", "t7xsg"]).stdout
    # and the rest stays: the kept network, the other agent's, the host's bridge
    assert {kept["bridge"], theirs["bridge"], "t7xhostbr"} <= links
    assert {agent.names.network_ns(kept["id"]), other.names.network_ns(theirs["id"])} <= namespaces
    assert subprocess.run(["nft", "list", "table", "bridge", "t7ysg"], check=False).returncode == 0

    # when the state is empty, nothing of the agent's is left
    agent.apply({"networks": [], "ports": [], "routers": []})
    assert "t7x" not in kit.run(["nft", "list", "tables"]).stdout
    assert not [n for n in json.loads(kit.run(["ip", "-j", "netns", "list"]).stdout)
                if n["name"].startswith("t7xnet-")]  # fmt: skip

"""What the network agent's tests build around it: payloads, guests played by network
namespaces, and a clean-up that removes everything of one prefix whatever the agent did.

A guest is a namespace with an ``eth0`` whose peer sits on the network's bridge under the
port's tap name (`tap_name`), as libvirt would plug a VM: the agent's rules keyed on tap
names apply to it. Its DHCP client is busybox ``udhcpc``.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from computecloud.wire import (
    NetworkPayload,
    PortPayload,
    RouterPayload,
    SecurityRulePayload,
    SubnetPayload,
    tap_name,
)

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc's hook: configure the lease and say what it was.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "LEASE ip=$ip|mask=$mask|router=$router|mtu=$mtu|staticroutes=$staticroutes"
    ;;
esac
exit 0
"""


def run(
    argv: list[str], *, check: bool = True, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def wait_for(predicate: Callable[[], Any], what: str, deadline: float = 15.0) -> Any:
    """Polls `predicate` until it is truthy (returned), or fails after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def new_id() -> str:
    return str(uuid.uuid4())


def subnet(cidr: str, gateway: str | None, **overrides: Any) -> SubnetPayload:
    payload: SubnetPayload = {
        "id": new_id(),
        "cidr": cidr,
        "ip_version": 4,
        "gateway_ip": gateway,
        "enable_dhcp": True,
        "dns_nameservers": [],
        "host_routes": [],
    }
    payload.update(overrides)  # type: ignore[typeddict-item]
    return payload


def network(
    prefix: str, subnets: list[SubnetPayload], vni: int, **overrides: Any
) -> NetworkPayload:
    nid = new_id()
    payload: NetworkPayload = {
        "id": nid,
        "name": f"net-{nid[:4]}",
        "project_id": new_id(),
        "network_type": "vxlan",
        "segmentation_id": vni,
        "physical_network": None,
        "bridge": f"{prefix}q{nid[:8]}",
        "mtu": 1450,
        "subnets": subnets,
        "remote_vteps": [],
    }
    payload.update(overrides)  # type: ignore[typeddict-item]
    return payload


DEFAULT_GROUP: list[SecurityRulePayload] = [
    {
        "direction": "egress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefixes": None,
    },
    {
        "direction": "egress",
        "ethertype": "IPv6",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefixes": None,
    },
]


def ingress(protocol: str | None, low: int | None = None, high: int | None = None,
            remote: list[str] | None = None) -> SecurityRulePayload:  # fmt: skip
    return {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": protocol,
        "port_range_min": low,
        "port_range_max": high if high is not None else low,
        "remote_ip_prefixes": remote,
    }


def port(
    net: NetworkPayload,
    address: str,
    *,
    rules: list[SecurityRulePayload] | None = None,
    device_id: str | None = None,
) -> PortPayload:
    pid = new_id()
    return {
        "id": pid,
        "network_id": net["id"],
        "mac_address": "fa:16:3e:" + ":".join(pid.replace("-", "")[i : i + 2] for i in (0, 2, 4)),
        "fixed_ips": [{"subnet_id": net["subnets"][0]["id"], "ip_address": address}],
        "device_id": device_id or new_id(),
        "project_id": net["project_id"],
        "hostname": f"vm-{pid[:6]}",
        "security_rules": rules,
    }


def router(prefix: str, **fields: Any) -> RouterPayload:
    payload: RouterPayload = {
        "id": new_id(),
        "project_id": new_id(),
        "interfaces": [],
        "external_network_id": None,
        "external_bridge": None,
        "external_address": None,
        "external_gateway": None,
        "enable_snat": True,
        "floating_ips": [],
    }
    payload.update(fields)  # type: ignore[typeddict-item]
    return payload


@dataclass
class Guest:
    """A namespace standing for a VM, plugged into `bridge` as the port's tap."""

    ns: str
    tap: str
    mac: str
    host_netns: str | None = None
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def exec(
        self, *argv: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.ns, *argv], check=check, timeout=timeout)

    def dhcp(self, script: Path) -> dict[str, str]:
        """A lease by DHCP (busybox udhcpc, 10 tries a second apart); what it said."""
        out = self.exec(
            "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "10", "-T", "1",
            "-O", "staticroutes", "-O", "mtu", "-s", str(script), check=False,
        )  # fmt: skip
        for line in out.stdout.splitlines():
            if line.startswith("LEASE "):
                return dict(item.split("=", 1) for item in line[6:].split("|"))
        raise AssertionError(f"{self.ns}: no lease: {out.stdout} {out.stderr}")

    def configure(self, address: str, gateway: str | None = None) -> None:
        self.exec("ip", "addr", "add", address, "dev", "eth0")
        if gateway:
            self.exec("ip", "route", "add", "default", "via", gateway)

    def python(self, code: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return self.exec(sys.executable, "-c", code, check=False, timeout=timeout)

    def http_get(self, url: str, source: str | None = None) -> tuple[int, str]:
        """(status, body); status 0 when the connection failed."""
        code = f"""
import http.client, sys, urllib.parse
u = urllib.parse.urlsplit({url!r})
c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=3,
                               source_address=({source!r}, 0) if {source!r} else None)
try:
    c.request("GET", u.path or "/")
    r = c.getresponse()
    print(r.status); sys.stdout.write(r.read().decode())
except OSError as e:
    print(0); print(e)
"""
        out = self.python(code)
        status, _, body = out.stdout.partition("\n")
        return int(status or 0), body

    def connects(self, address: str, port: int, source: str | None = None) -> bool:
        code = f"""
import socket
s = socket.socket()
s.settimeout(1.5)
if {source!r}:
    s.bind(({source!r}, 0))
try:
    s.connect(({address!r}, {port})); print("yes")
except OSError as e:
    print("no", e)
"""
        return self.python(code).stdout.startswith("yes")

    def pings(self, address: str) -> bool:
        return (
            self.exec("busybox", "ping", "-c", "1", "-W", "2", address, check=False).returncode == 0
        )

    def listen(self, port: int) -> subprocess.Popen[str]:
        """A TCP server in the guest answering each connection with the guest's name."""
        code = f"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {port})); s.listen(8); print("ready", flush=True)
while True:
    c, peer = s.accept(); c.sendall(({self.ns!r} + " " + peer[0]).encode()); c.close()
"""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-c", code],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        self.processes.append(proc)
        return proc


class Lab:
    """Everything a test makes for one prefix, and its removal at the end, even on failure."""

    def __init__(self, prefix: str, host_netns: str | None = None) -> None:
        self.prefix = prefix
        self.host_netns = host_netns
        self.guests: list[Guest] = []
        self.extra_links: list[tuple[str, str | None]] = []
        self.extra_namespaces: list[str] = []
        self.servers: list[Any] = []

    def host(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        wrapped = ["ip", "netns", "exec", self.host_netns, *argv] if self.host_netns else list(argv)
        return run(wrapped, check=check)

    def guest(self, port: PortPayload, bridge: str, name: str) -> Guest:
        ns = f"{self.prefix}g{name}"
        tap = tap_name(port["id"])
        run(["ip", "netns", "add", ns])
        guest = Guest(ns, tap, port["mac_address"], self.host_netns)
        self.guests.append(guest)
        self.host("ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", ns)
        guest.exec("ip", "link", "set", "eth0", "address", port["mac_address"])
        guest.exec("ip", "link", "set", "lo", "up")
        guest.exec("ip", "link", "set", "eth0", "up")
        self.host("ip", "link", "set", tap, "master", bridge)
        self.host("ip", "link", "set", tap, "up")
        return guest

    def cleanup(self, state_dir: Path) -> None:
        for guest in self.guests:
            for proc in guest.processes:
                proc.kill()
                proc.wait()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for pid_file in state_dir.glob("*/*.pid") if state_dir.exists() else []:
            with contextlib.suppress(ValueError, ProcessLookupError, FileNotFoundError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        own = re.compile(rf"{self.prefix}(net-|rtr-|g)")
        for entry in json.loads(run(["ip", "-j", "netns", "list"]).stdout or "[]"):
            if own.match(entry["name"]):
                run(["ip", "netns", "del", entry["name"]], check=False)
        for name, where in self.extra_links:
            run(["ip", *(["-n", where] if where else []), "link", "del", name], check=False)
        existing = {
            e["name"] for e in json.loads(run(["ip", "-j", "netns", "list"]).stdout or "[]")
        }
        scopes = [None, self.host_netns] if self.host_netns in existing else [None]
        for scope in scopes:
            prefix_args = ["ip", "netns", "exec", scope] if scope else []
            links = json.loads(run([*prefix_args, "ip", "-j", "-d", "link", "show"]).stdout)
            for link in links:
                alias = link.get("ifalias") or ""
                if link["ifname"].startswith(self.prefix) or alias.startswith(
                    f"{self.prefix}-agent"
                ):
                    run([*prefix_args, "ip", "link", "del", link["ifname"]], check=False)
            for family in ("bridge", "inet"):
                run(
                    [*prefix_args, "nft", "delete", "table", family, f"{self.prefix}sg"],
                    check=False,
                )
        for ns in self.extra_namespaces:
            run(["ip", "netns", "del", ns], check=False)
        run(["rm", "-rf", str(state_dir)], check=False)

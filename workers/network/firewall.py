"""nftables rulesets, as text: the host's security groups, a network namespace's guard and a
router's NAT. Pure functions of the payloads; applying them is the agent's.

Security groups on this kernel (docs/network-agent.md, "Measured"): the bridge family has no
connection tracking here (no nf_conntrack_bridge), so the stateful part lives in an inet table
that sees bridged IPv4/IPv6 through br_netfilter (each bridge's nf_call_iptables). There a
bridged packet's input and output devices are the bridge, not its ports, so a bridge-family
table marks each frame with its ports first: the top 16 bits of the packet mark say which
filtered port it came from (prerouting, where anti-spoofing also drops what a port may not
send), the low 16 bits which filtered port it goes to (forward). Both tables are replaced in
one transaction, so the port numbers in the marks can be renumbered freely.

Every ruleset carries an empty chain named after a hash of its text (``rev_<hash>``): the
agent replaces a table only when that chain is missing, so a second apply changes nothing.
"""

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from computecloud.wire import PortPayload, SecurityRulePayload, tap_name
from workers.network.names import METADATA_IP

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_PROTOCOL_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")
_ICMP = {"icmp", "1"}
_ICMP6 = {"icmpv6", "ipv6-icmp", "58"}


@dataclass(frozen=True)
class Ruleset:
    text: str
    revision: str  # the name of the marker chain in it


def revision_of(body: str) -> str:
    return "rev_" + hashlib.sha256(body.encode()).hexdigest()[:16]


def replace_tables(tables: Sequence[tuple[str, str, str]]) -> Ruleset:
    """One transaction that replaces each (family, name, body) table whole. The revision is
    the same for the same bodies, and every table carries it."""
    revision = revision_of("\n".join(f"{f} {n}\n{b}" for f, n, b in tables))
    lines: list[str] = []
    for family, name, _ in tables:
        # Create-then-delete: "delete" alone fails when the table is absent.
        lines += [f"table {family} {name} {{}}", f"delete table {family} {name}"]
    for family, name, body in tables:
        lines += [f"table {family} {name} {{", f"  chain {revision} {{}}", body, "}"]
    return Ruleset("\n".join(lines) + "\n", revision)


def _q(name: str) -> str:
    """An interface name as an nftables string (our names: letters, digits, '-')."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", name):
        raise ValueError(f"not an interface name: {name!r}")
    return f'"{name}"'


def _set(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


# --- security groups (the host) ---------------------------------------------------------------


def _addresses(port: PortPayload, version: int) -> list[str]:
    found = []
    for fixed in port["fixed_ips"]:
        address = ipaddress.ip_address(fixed["ip_address"])
        if address.version == version:
            found.append(str(address))
    return found


def _prefixes(prefixes: list[str], version: int) -> list[str]:
    """The prefixes of one IP version, merged: an nftables set refuses overlapping intervals."""
    networks = [ipaddress.ip_network(p, strict=False) for p in prefixes]
    same = [n for n in networks if n.version == version]
    return [str(n) for n in ipaddress.collapse_addresses(same)]  # type: ignore[type-var]


def rule_match(rule: SecurityRulePayload, direction: str) -> str | None:
    """The match of one allow rule in a port's ingress or egress chain; None when it can
    match nothing (a remote group without members, a prefix list of the other version) or
    is not understood (logged by the caller)."""
    version = 6 if rule["ethertype"] == "IPv6" else 4
    family = "ip6" if version == 6 else "ip"
    parts = [f"meta nfproto ipv{version}"]
    remote = rule.get("remote_ip_prefixes")
    if remote is not None:
        prefixes = _prefixes(remote, version)
        if not prefixes:
            return None
        # The remote end: where ingress comes from, where egress goes to.
        field = "saddr" if direction == "ingress" else "daddr"
        parts.append(f"{family} {field} {_set(prefixes)}")
    protocol = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if protocol is not None:
        protocol = str(protocol).lower()
        if protocol in _ICMP | _ICMP6:
            icmp = "icmpv6" if version == 6 else "icmp"
            parts.append(f"meta l4proto {'ipv6-icmp' if version == 6 else 'icmp'}")
            # ICMP rules carry the type in port_range_min and the code in port_range_max.
            if low is not None:
                parts.append(f"{icmp} type {int(low)}")
                if high is not None:
                    parts.append(f"{icmp} code {int(high)}")
        elif protocol.isdigit():
            parts.append(f"meta l4proto {int(protocol)}")
        elif _PROTOCOL_NAME.fullmatch(protocol):
            parts.append(f"meta l4proto {protocol}")
            if protocol in {"tcp", "udp", "sctp", "udplite", "dccp"} and low is not None:
                ports = f"{int(low)}" if high in (None, low) else f"{int(low)}-{int(high)}"
                parts.append(f"th dport {ports}")
        else:
            return None
    return " ".join(parts)


def _spoof_chain(port: PortPayload, number: int) -> list[str]:
    """What a port may send (bridge family, stateless): its MAC, its fixed addresses (DHCP
    from 0.0.0.0), ARP only as itself; no VLAN tags, no DHCP server."""
    mac = port["mac_address"].lower()
    if not _MAC.fullmatch(mac):
        raise ValueError(f"port {port['id']}: not a MAC address: {mac!r}")
    v4 = _addresses(port, 4)
    v6 = _addresses(port, 6)
    return [
        f"  chain from_{number} {{",
        f"    meta mark set meta mark & 0x0000ffff | 0x{number:04x}0000",
        f"    ether saddr != {mac} drop",
        "    ether type vlan drop",
        f"    ether type arp arp saddr ether != {mac} drop",
        f"    ether type arp arp saddr ip != {_set(['0.0.0.0', *v4])} drop",  # noqa: S104 - ARP probes
        "    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept",
        f"    ip saddr != {_set(v4)} drop" if v4 else "    ether type ip drop",
        "    ip protocol udp udp sport 67 drop",
        f"    ip6 saddr != {_set(['::', 'fe80::/10', *v6])} drop",
        "  }",
    ]


def _filter_chain(
    port: PortPayload, number: int, direction: str, skipped: list[SecurityRulePayload]
) -> list[str]:
    chain = "egress" if direction == "egress" else "ingress"
    lines = [
        f"  chain {chain}_{number} {{",
        "    ct state established,related accept",
    ]
    if direction == "egress":
        lines += [
            "    meta nfproto ipv4 udp sport 68 udp dport 67 accept",
            f"    ip daddr {METADATA_IP} tcp dport 80 accept",
        ]
    else:
        lines += [
            "    meta nfproto ipv4 udp sport 67 udp dport 68 accept",
            "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept",
        ]
    for rule in port["security_rules"] or []:
        if rule["direction"] != direction:
            continue
        match = rule_match(rule, direction)
        if match is None:
            skipped.append(rule)
            continue
        lines.append(f"    {match} accept")
    lines += ["    drop", "  }"]
    return lines


def security_groups(
    prefix_table: str,
    ports: Sequence[PortPayload],
    zones: dict[str, int],
    tunnels: dict[str, str] | None = None,
    skipped: list[SecurityRulePayload] | None = None,
    *,
    bridges: Iterable[str],
) -> Ruleset:
    """The host's two tables for the filtered ports (``security_rules`` not None): default
    drop both ways, established and related allowed, each rule an accept. `zones` maps a
    bridge to its network's conntrack zone. Rules that match nothing go to `skipped`.

    `bridges` are this agent's bridges: the inet chains read the packet mark only on frames
    of those. The mark is the host's, not the table's, so another agent's tables on the same
    host (a worker killed before it cleared them, or a second worker with its own prefix)
    would otherwise read this agent's port numbers as theirs and drop by their rules.

    `tunnels` maps each vxlan device to its network's gateway MAC. Every host's namespace of
    a network holds the same gateway (address and MAC), so the gateway stays local: frames
    from that MAC never cross a tunnel (else the bridges would learn it on the tunnel and
    send a guest's traffic to another host's namespace), nor does DHCP (each host's dnsmasq
    serves its own ports)."""
    skipped = skipped if skipped is not None else []
    filtered = sorted((p for p in ports if p["security_rules"] is not None), key=lambda p: p["id"])
    bridge = [
        "  chain prerouting {",
        "    type filter hook prerouting priority -200; policy accept;",
    ]
    forward = [
        "  chain forward {",
        "    type filter hook forward priority -200; policy accept;",
    ]
    port_chains: list[str] = []
    inet_chains: list[str] = []
    egress_map: list[str] = []
    ingress_map: list[str] = []
    for device, gateway_mac in sorted((tunnels or {}).items()):
        bridge.append(f"    iifname {_q(device)} ether saddr {gateway_mac} drop")
        forward.append(f"    oifname {_q(device)} ether saddr {gateway_mac} drop")
        forward.append(f"    oifname {_q(device)} ether type ip udp dport {{ 67, 68 }} drop")
    for number, port in enumerate(filtered, start=1):
        tap = _q(tap_name(port["id"]))
        bridge.append(f"    iifname {tap} jump from_{number}")
        forward.append(f"    oifname {tap} meta mark set meta mark & 0xffff0000 | 0x{number:04x}")
        port_chains += _spoof_chain(port, number)
        inet_chains += _filter_chain(port, number, "egress", skipped)
        inet_chains += _filter_chain(port, number, "ingress", skipped)
        egress_map.append(f"0x{number:04x}0000 : jump egress_{number}")
        ingress_map.append(f"0x{number:04x} : jump ingress_{number}")
    bridge_body = "\n".join([*bridge, "  }", *forward, "  }", *port_chains])

    inet = []
    if zones:
        zone_map = _set(f"{_q(b)} : {z}" for b, z in sorted(zones.items()))
        inet += [
            "  chain zones {",
            "    type filter hook prerouting priority raw; policy accept;",
            f"    ct zone set iifname map {zone_map}",
            "  }",
        ]
    if filtered:
        own = _set(_q(b) for b in sorted(set(bridges)))
        inet += [
            "  chain from_ports {",
            "    type filter hook forward priority -10; policy accept;",
            f"    iifname {own} meta mark & 0xffff0000 vmap {_set(egress_map)}",
            "  }",
            # Frames from a guest to the host itself (a flat bridge with an address).
            "  chain from_ports_to_host {",
            "    type filter hook input priority -10; policy accept;",
            f"    iifname {own} meta mark & 0xffff0000 vmap {_set(egress_map)}",
            "  }",
            "  chain to_ports {",
            "    type filter hook forward priority 0; policy accept;",
            f"    oifname {own} meta mark & 0x0000ffff vmap {_set(ingress_map)}",
            "  }",
            *inet_chains,
        ]
    inet_body = "\n".join(inet)
    return replace_tables(
        [("bridge", prefix_table, bridge_body), ("inet", prefix_table, inet_body)]
    )


# --- a network's namespace -------------------------------------------------------------------


def namespace_guard(table: str, device: str) -> Ruleset:
    """What guests may reach in their network's namespace: DHCP, the metadata proxy, a ping
    of the gateway; nothing else (no service, and through it no host address). Forwarding to
    and from the router is not input and passes."""
    dev = _q(device)
    body = "\n".join(
        [
            "  chain input {",
            "    type filter hook input priority 0; policy drop;",
            '    iifname "lo" accept',
            "    ct state established,related accept",
            f"    iifname {dev} udp sport 68 udp dport 67 accept",
            f"    iifname {dev} ip daddr {METADATA_IP} tcp dport 80 accept",
            f"    iifname {dev} icmp type echo-request accept",
            "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept",
            "  }",
        ]
    )
    return replace_tables([("inet", table, body)])


# --- a router's namespace --------------------------------------------------------------------


def router_tables(
    nat_table: str,
    guard_table: str,
    external_device: str | None,
    external_ip: str | None,
    snat_sources: Sequence[str],
    floating: Sequence[tuple[str, str]],
) -> Ruleset:
    """The router's NAT (floating IPs both ways, then SNAT of its subnets to its external
    address) and its guard (nothing in the router answers but pings)."""
    guard = "\n".join(
        [
            "  chain input {",
            "    type filter hook input priority 0; policy drop;",
            '    iifname "lo" accept',
            "    ct state established,related accept",
            "    icmp type echo-request accept",
            "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
            "  }",
        ]
    )
    pre = ["  chain prerouting {", "    type nat hook prerouting priority dstnat; policy accept;"]
    post = [
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
    ]
    if external_device:
        dev = _q(external_device)
        for floating_ip, fixed_ip in floating:
            f_ip = ipaddress.IPv4Address(floating_ip)
            x_ip = ipaddress.IPv4Address(fixed_ip)
            pre.append(f"    ip daddr {f_ip} dnat to {x_ip}")
            post.append(f"    oifname {dev} ip saddr {x_ip} snat to {f_ip}")
        sources = _prefixes(list(snat_sources), 4)
        if sources and external_ip:
            post.append(
                f"    oifname {dev} ip saddr {_set(sources)} "
                f"snat to {ipaddress.IPv4Address(external_ip)}"
            )
    nat = "\n".join([*pre, "  }", *post, "  }"])
    return replace_tables([("ip", nat_table, nat), ("inet", guard_table, guard)])

"""The security-group rules as nftables text: what each rule becomes, and that nft accepts
the whole ruleset (checked with ``nft -c``, nothing applied)."""

import subprocess

from tests.workers.network import kit
from workers.network.firewall import rule_match, security_groups


def _rule(**fields):  # type: ignore[no-untyped-def]
    rule = {
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefixes": None,
    }
    rule.update(fields)
    return rule


def test_a_tcp_range_from_prefixes_that_overlap_becomes_one_merged_set() -> None:
    prefixes = ["10.0.0.0/24", "10.0.0.5/32", "192.0.2.0/25", "192.0.2.128/25"]
    rule = _rule(protocol="tcp", port_range_min=20, port_range_max=22, remote_ip_prefixes=prefixes)
    assert rule_match(rule, "ingress") == (
        "meta nfproto ipv4 ip saddr { 10.0.0.0/24, 192.0.2.0/24 } meta l4proto tcp th dport 20-22"
    )


def test_egress_matches_the_destination_and_icmp_carries_type_and_code() -> None:
    rule = _rule(direction="egress", protocol="icmp", port_range_min=8, port_range_max=0,
                 remote_ip_prefixes=["198.51.100.0/24"])  # fmt: skip
    assert rule_match(rule, "egress") == (
        "meta nfproto ipv4 ip daddr { 198.51.100.0/24 } meta l4proto icmp icmp type 8 icmp code 0"
    )


def test_rules_that_can_match_nothing_or_are_not_understood_are_left_out() -> None:
    assert rule_match(_rule(remote_ip_prefixes=[]), "ingress") is None  # a group without members
    assert rule_match(_rule(remote_ip_prefixes=["2001:db8::/64"]), "ingress") is None
    assert rule_match(_rule(protocol="tcp; flush ruleset"), "ingress") is None


def test_nft_accepts_the_rendered_ruleset() -> None:
    net = kit.network("t0f", [kit.subnet("10.230.1.0/24", "10.230.1.1")], vni=2301)
    rules = [
        *kit.DEFAULT_GROUP,
        _rule(protocol="udp", port_range_min=53, port_range_max=53),
        _rule(protocol="47"),
        _rule(ethertype="IPv6", protocol="icmpv6", remote_ip_prefixes=["2001:db8::/64"]),
        _rule(protocol="icmp", remote_ip_prefixes=["10.230.1.0/24", "10.230.1.7/32"]),
    ]
    ports = [kit.port(net, "10.230.1.10", rules=rules), kit.port(net, "10.230.1.11", rules=[])]
    skipped: list = []  # type: ignore[type-arg]
    ruleset = security_groups(
        "t0fsg",
        ports,
        {net["bridge"]: 7},
        {"t0fvx-12345678": "02:00:00:00:00:01"},
        skipped,
        bridges=[net["bridge"]],
    )
    check = subprocess.run(
        ["nft", "-c", "-f", "-"], input=ruleset.text, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert skipped == []
    # the same input, the same revision: a second apply is recognised as a no-op
    assert (
        security_groups(
            "t0fsg",
            ports,
            {net["bridge"]: 7},
            {"t0fvx-12345678": "02:00:00:00:00:01"},
            bridges=[net["bridge"]],
        ).revision
        == ruleset.revision
    )

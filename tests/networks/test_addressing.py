"""Subnet arithmetic (apps/networks/addressing.py): pools, gateways, the next free address."""

import ipaddress
import re

import pytest

from apps.networks import addressing
from apps.networks.addressing import Pool
from apps.networks.exceptions import InvalidInput

ip = ipaddress.ip_address


def test_default_pools_leave_out_the_gateway():
    net = ipaddress.ip_network("10.0.0.0/28")
    assert addressing.default_pools(net, ip("10.0.0.1")) == [Pool(ip("10.0.0.2"), ip("10.0.0.14"))]
    assert addressing.default_pools(net, ip("10.0.0.8")) == [
        Pool(ip("10.0.0.1"), ip("10.0.0.7")),
        Pool(ip("10.0.0.9"), ip("10.0.0.14")),
    ]
    assert addressing.default_pools(net, None) == [Pool(ip("10.0.0.1"), ip("10.0.0.14"))]
    v6 = ipaddress.ip_network("2001:db8::/64")
    pools = addressing.default_pools(v6, addressing.default_gateway(v6))
    assert pools == [Pool(ip("2001:db8::2"), ip("2001:db8::ffff:ffff:ffff:ffff"))]


def test_first_free_walks_the_taken_addresses_in_pool_order():
    pools = [Pool(ip("10.0.0.2"), ip("10.0.0.4")), Pool(ip("10.0.0.10"), ip("10.0.0.11"))]
    assert addressing.first_free(pools, []) == ip("10.0.0.2")
    assert addressing.first_free(pools, [ip("10.0.0.2"), ip("10.0.0.3")]) == ip("10.0.0.4")
    taken = [ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.10")]
    assert addressing.first_free(pools, taken) == ip("10.0.0.11")
    assert addressing.first_free(pools, [*taken, ip("10.0.0.11")]) is None
    # a gap left by a released address is given first
    assert addressing.first_free(pools, [ip("10.0.0.3")]) == ip("10.0.0.2")
    # the last address of IPv6's space does not overflow
    top = Pool(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"),
               ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))  # fmt: skip
    assert addressing.first_free([top], [top.start, top.end]) is None


def test_a_big_v6_pool_costs_what_its_allocations_cost():
    pool = Pool(ip("2001:db8::2"), ip("2001:db8::ffff:ffff:ffff:ffff"))
    taken = [ip("2001:db8::2") + i for i in range(1000)]
    assert addressing.first_free([pool], taken) == ip("2001:db8::2") + 1000


@pytest.mark.parametrize(
    ("pools", "gateway"),
    [
        ([{"start": "10.0.0.9", "end": "10.0.0.2"}], None),
        ([{"start": "10.0.0.0", "end": "10.0.0.5"}], None),
        ([{"start": "10.0.0.250", "end": "10.0.0.255"}], None),
        ([{"start": "10.0.0.2", "end": "10.0.0.9"}, {"start": "10.0.0.9", "end": "10.0.0.12"}],
         None),
        ([{"start": "10.0.0.2", "end": "10.0.0.9"}], "10.0.0.5"),
        ([{"start": "fe80::1", "end": "fe80::2"}], None),
        ([{"start": "10.0.0.2"}], None),
    ],
)  # fmt: skip
def test_bad_pools(pools, gateway):
    net = ipaddress.ip_network("10.0.0.0/24")
    with pytest.raises(InvalidInput):
        addressing.parse_pools(net, pools, ip(gateway) if gateway else None)


def test_cidrs_with_host_bits_name_the_network_meant():
    with pytest.raises(InvalidInput, match=re.escape("'10.0.0.0/24' is recommended")):
        addressing.parse_cidr("10.0.0.7/24")
    assert str(addressing.parse_cidr("10.0.0.7/24", strict=False)) == "10.0.0.0/24"

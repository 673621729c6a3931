"""Subnet arithmetic on values, no database: CIDRs, gateways, allocation pools, routes.

Every function validates what a request gave and answers in Neutron's words (400
`InvalidInput` unless said otherwise); the services decide what to do with the result.
"""

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.networks.exceptions import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The smallest subnets that still hold a gateway and an address for a port.
MAX_PREFIXLEN = {4: 30, 6: 126}
MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20


@dataclass(frozen=True)
class Pool:
    start: IPAddress
    end: IPAddress

    def __contains__(self, address: object) -> bool:
        # Compared as integers (mypy will not compare a v4/v6 union), of the pool's version.
        return (
            isinstance(address, IPAddress)
            and address.version == self.start.version
            and int(self.start) <= int(address) <= int(self.end)
        )

    def as_dict(self) -> dict[str, str]:
        return {"start": str(self.start), "end": str(self.end)}


def parse_ip(value: Any, *, what: str = "IP address") -> IPAddress:
    if not isinstance(value, str):
        raise InvalidInput(f"'{value}' is not a valid {what}")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {what}") from None


def parse_cidr(value: Any, *, strict: bool = True) -> IPNetwork:
    """A CIDR as Neutron takes it: with `strict`, host bits set is a 400 naming the network
    meant."""
    if not isinstance(value, str) or "/" not in value:
        raise InvalidInput(f"'{value}' is not a valid IP subnet")
    try:
        interface = ipaddress.ip_interface(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid IP subnet") from None
    network = interface.network
    if strict and interface.ip != network.network_address:
        raise InvalidInput(
            f"'{value}' isn't a recognized IP subnet cidr, '{network}' is recommended"
        )
    return network


def check_subnet_size(network: IPNetwork) -> None:
    if network.prefixlen == 0:
        raise InvalidInput(f"{network} is not allowed as a subnet: it is every address")
    if network.prefixlen > MAX_PREFIXLEN[network.version]:
        raise InvalidInput(
            f"Subnet {network} is too small: the prefix length may be at most "
            f"{MAX_PREFIXLEN[network.version]} for IPv{network.version}"
        )


def host_range(network: IPNetwork) -> Pool:
    """The addresses ports may hold: all but the network address (and IPv4's broadcast)."""
    first = network.network_address + 1
    last = network.broadcast_address - 1 if network.version == 4 else network.broadcast_address
    return Pool(first, last)


def default_gateway(network: IPNetwork) -> IPAddress:
    return network.network_address + 1


def check_gateway(network: IPNetwork, gateway: IPAddress) -> None:
    if gateway.version != network.version or gateway not in host_range(network):
        raise InvalidInput(f"Gateway IP {gateway} is not valid on subnet {network}")


def default_pools(network: IPNetwork, gateway: IPAddress | None) -> list[Pool]:
    """The host range, minus the gateway (which splits it in two when it is inside)."""
    whole = host_range(network)
    if gateway is None or gateway not in whole:
        return [whole]
    pools = []
    if int(gateway) > int(whole.start):
        pools.append(Pool(whole.start, gateway - 1))
    if int(gateway) < int(whole.end):
        pools.append(Pool(gateway + 1, whole.end))
    return pools


def parse_pools(network: IPNetwork, raw: Iterable[Any], gateway: IPAddress | None) -> list[Pool]:
    """Requested pools: each inside the host range, start <= end, none overlapping another,
    none holding the gateway (Neutron's GatewayConflictWithAllocationPools is a 409; a 400
    here, as every other pool mistake)."""
    pools: list[Pool] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"start", "end"}:
            raise InvalidInput("An allocation pool is {'start': IP, 'end': IP}")
        start = parse_ip(item["start"])
        end = parse_ip(item["end"])
        whole = host_range(network)
        if start.version != network.version or end.version != network.version:
            raise InvalidInput(f"The allocation pool {start}-{end} is not of IPv{network.version}")
        if int(start) > int(end) or start not in whole or end not in whole:
            raise InvalidInput(f"The allocation pool {start}-{end} spans beyond the subnet cidr")
        pools.append(Pool(start, end))
    pools.sort(key=lambda p: int(p.start))
    for before, after in itertools.pairwise(pools):
        if int(after.start) <= int(before.end):
            raise InvalidInput(
                f"Found overlapping allocation pools: {before.start}-{before.end} and "
                f"{after.start}-{after.end}"
            )
    if gateway is not None and any(gateway in pool for pool in pools):
        raise InvalidInput(f"Gateway ip {gateway} conflicts with allocation pool")
    return pools


def pools_from_json(raw: Sequence[dict[str, str]]) -> list[Pool]:
    return [Pool(ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"])) for p in raw]


def parse_nameservers(network_version: int, raw: Iterable[Any]) -> list[str]:
    servers = [str(parse_ip(item, what="nameserver")) for item in raw]
    if len(servers) > MAX_DNS_NAMESERVERS:
        raise InvalidInput(f"Exceeded maximum amount of DNS nameservers ({MAX_DNS_NAMESERVERS})")
    if len(set(servers)) != len(servers):
        raise InvalidInput("Duplicate nameserver in dns_nameservers")
    return servers


def parse_host_routes(network: IPNetwork, raw: Iterable[Any]) -> list[dict[str, str]]:
    routes: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"destination", "nexthop"}:
            raise InvalidInput("A host route is {'destination': CIDR, 'nexthop': IP}")
        destination = parse_cidr(item["destination"])
        nexthop = parse_ip(item["nexthop"])
        if destination.version != network.version or nexthop.version != network.version:
            raise InvalidInput(f"Host route {item} is not of IPv{network.version}")
        route = {"destination": str(destination), "nexthop": str(nexthop)}
        if route in routes:
            raise InvalidInput(f"Duplicate hostroute '{destination}'")
        routes.append(route)
    if len(routes) > MAX_HOST_ROUTES:
        raise InvalidInput(f"Exceeded maximum amount of host routes ({MAX_HOST_ROUTES})")
    return routes


def first_free(pools: Sequence[Pool], taken: Iterable[IPAddress]) -> IPAddress | None:
    """The lowest address of the pools, in pool order, that is not `taken`. Walks the taken
    addresses, never the pools, so a /64 costs what its allocations cost."""
    used = sorted(set(taken), key=int)
    for pool in pools:
        address = _first_free_in(pool, used)
        if address is not None:
            return address
    return None


def _first_free_in(pool: Pool, used: Sequence[IPAddress]) -> IPAddress | None:
    candidate = pool.start
    for address in used:
        if int(address) < int(candidate):
            continue
        if int(address) > int(candidate):
            return candidate
        if candidate == pool.end:
            return None
        candidate = candidate + 1
    return candidate

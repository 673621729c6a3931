"""Address and MAC allocation, atomic under concurrency (docs/networks.md, "IPAM").

No lock is taken to hand out an address. The database is the referee: an allocation is an
INSERT into `IPAllocation`, whose UNIQUE(subnet, ip_address) lets exactly one of two
concurrent inserts of one address commit. The loser's INSERT waits for the winner's
transaction, fails, and (for "the next free address") looks again, now seeing the winner's
row; each retry therefore follows a commit of someone else's, so the loop ends by the time
the pool is full, with `IpAddressGenerationFailure`. Each INSERT runs in a savepoint, so a
lost race leaves the caller's transaction usable.

MACs are drawn at random under Neutron's prefix fa:16:3e and inserted the same way: a
collision with `Port.mac_address`'s unique index draws again.

Precondition for every function: the caller is inside ``transaction.atomic()`` (the port's
insert and its addresses commit or roll back together).
"""

import ipaddress
import secrets

from django.db import IntegrityError, transaction

from apps.networks import addressing
from apps.networks.choices import OWNER_ROUTER_INTERFACE
from apps.networks.exceptions import (
    InvalidInput,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
)
from apps.networks.models import IPAllocation, Port, Subnet

MAC_PREFIX = "fa:16:3e"
MAC_ATTEMPTS = 16


def violated_constraint(exc: IntegrityError) -> str:
    """The name of the constraint an IntegrityError broke ("" when PostgreSQL named none)."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def random_mac() -> str:
    return MAC_PREFIX + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


def _taken(subnet: Subnet) -> list[addressing.IPAddress]:
    rows = IPAllocation.objects.filter(subnet=subnet).values_list("ip_address", flat=True)
    return [ipaddress.ip_address(row) for row in rows]


def _insert(port: Port, subnet: Subnet, address: addressing.IPAddress) -> IPAllocation | None:
    """Insert the allocation; None when another port holds the address (committed)."""
    try:
        with transaction.atomic():
            return IPAllocation.objects.create(port=port, subnet=subnet, ip_address=str(address))
    except IntegrityError as exc:
        if violated_constraint(exc) != "ip_allocation_unique_address":
            raise
        return None


def allocate_next(port: Port, subnet: Subnet) -> IPAllocation | None:
    """The next free address of `subnet`'s pools for `port`; None when the pools are full."""
    pools = addressing.pools_from_json(subnet.allocation_pools)
    while True:
        address = addressing.first_free(pools, _taken(subnet))
        if address is None:
            return None
        allocation = _insert(port, subnet, address)
        if allocation is not None:
            return allocation
        # Lost the race for `address` to a transaction that committed: look again.


def allocate_next_or_fail(port: Port, subnet: Subnet) -> IPAllocation:
    allocation = allocate_next(port, subnet)
    if allocation is None:
        raise IpAddressGenerationFailure(net_id=subnet.network_id)
    return allocation


def allocate_address(port: Port, subnet: Subnet, address: addressing.IPAddress) -> IPAllocation:
    """Exactly `address` of `subnet` for `port`: anywhere in the subnet's host range (pools
    bound only automatic allocation, as in Neutron); the gateway only for a router's
    interface; 409 `IpAddressAlreadyAllocated` when a port holds it."""
    network = addressing.parse_cidr(subnet.cidr)
    if address.version != network.version or address not in addressing.host_range(network):
        raise InvalidInput(f"IP address {address} is not a valid IP for the specified subnet")
    is_gateway = subnet.gateway_ip is not None and address == ipaddress.ip_address(
        subnet.gateway_ip
    )
    if is_gateway and port.device_owner != OWNER_ROUTER_INTERFACE:
        raise IpAddressAlreadyAllocated(ip=str(address), subnet_id=subnet.pk)
    allocation = _insert(port, subnet, address)
    if allocation is None:
        raise IpAddressAlreadyAllocated(ip=str(address), subnet_id=subnet.pk)
    return allocation

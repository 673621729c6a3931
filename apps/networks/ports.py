"""Ports: a MAC and fixed addresses on one network, a binding to a device and a host, and
the security groups filtering it.

Addresses come from apps/networks/ipam.py (atomic without locks). Without ``fixed_ips`` a
port gets, per IP version, an address from the first subnet of the network that has one free
(Neutron's rule: a full subnet does not fail the port while another has room); ``[]`` means
no address; each requested entry is exactly honoured (docs/networks.md, "IPAM").

A port with port security gets the project's ``default`` group unless groups are named; one
without may have none. Ports the service holds addresses with (a router's gateway or
interface, a floating IP) are deleted by their owners' operations, not through the port API.
"""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.networks import addressing, ipam, sync, usage
from apps.networks.choices import (
    HIDDEN_OWNERS,
    OWNER_FLOATING_IP,
    OWNER_ROUTER_GATEWAY,
    OWNER_ROUTER_INTERFACE,
    ResourceStatus,
)
from apps.networks.exceptions import (
    InvalidInput,
    MacAddressGenerationFailure,
    MacAddressInUse,
    PortInUse,
    ServicePortInUse,
)
from apps.networks.models import FloatingIP, IPAllocation, Network, Port, SecurityGroup, Subnet
from apps.networks.revisions import bump, bump_all
from apps.networks.security import ensure_default_security_group, resolve_security_groups

SERVICE_OWNERS = (OWNER_ROUTER_INTERFACE, OWNER_ROUTER_GATEWAY, OWNER_FLOATING_IP)


@dataclass(frozen=True)
class FixedIpRequest:
    """One entry of ``fixed_ips``: a subnet (the next free address), an address (its
    subnet found by CIDR), or both (exactly that address of that subnet)."""

    subnet_id: str | None = None
    ip_address: str | None = None


# --- addresses --------------------------------------------------------------------------------
def _subnets(network: Network) -> list[Subnet]:
    return list(network.subnets.order_by("created_at", "id"))


def _allocate_default(port: Port, subnets: Sequence[Subnet]) -> None:
    """Per IP version, the next free address of the first subnet that has one."""
    by_version: dict[int, list[Subnet]] = {}
    for subnet in subnets:
        by_version.setdefault(subnet.ip_version, []).append(subnet)
    for candidates in by_version.values():
        if not any(ipam.allocate_next(port, subnet) for subnet in candidates):
            ipam.allocate_next_or_fail(port, candidates[-1])  # raises: every subnet is full


def _subnet_of(network: Network, subnets: Sequence[Subnet], request: FixedIpRequest) -> Subnet:
    if request.subnet_id is not None:
        for subnet in subnets:
            if str(subnet.pk) == str(request.subnet_id):
                return subnet
        raise InvalidInput(
            f"Failed to create port on network {network.pk}, because fixed_ips included "
            f"invalid subnet {request.subnet_id}"
        )
    address = addressing.parse_ip(request.ip_address)
    for subnet in subnets:
        if address in ipaddress.ip_network(subnet.cidr):
            return subnet
    raise InvalidInput(
        f"IP address {address} is not a valid IP for any of the subnets on the specified network"
    )


def _allocate_requested(
    port: Port, network: Network, subnets: Sequence[Subnet], requests: Sequence[FixedIpRequest]
) -> None:
    for request in requests:
        if request.subnet_id is None and request.ip_address is None:
            raise InvalidInput("A fixed IP names a subnet_id, an ip_address or both")
        subnet = _subnet_of(network, subnets, request)
        if request.ip_address is None:
            ipam.allocate_next_or_fail(port, subnet)
        else:
            ipam.allocate_address(port, subnet, addressing.parse_ip(request.ip_address))


def _insert_port(*, mac_address: str | None, **fields: Any) -> Port:
    """Insert with the given MAC (409 when taken) or a random one (drawn again on a
    collision)."""
    for _ in range(ipam.MAC_ATTEMPTS):
        mac = mac_address or ipam.random_mac()
        try:
            with transaction.atomic():
                return Port.objects.create(mac_address=mac, **fields)
        except IntegrityError as exc:
            if "mac_address" not in ipam.violated_constraint(exc):
                raise
            if mac_address is not None:
                raise MacAddressInUse(net_id=fields["network"].pk, mac=mac) from None
    raise MacAddressGenerationFailure(net_id=fields["network"].pk)


def _normalize_mac(value: str) -> str:
    parts = value.replace("-", ":").lower().split(":")
    if len(parts) != 6 or not all(
        len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts
    ):
        raise InvalidInput(f"'{value}' is not a valid MAC address")
    if int(parts[0], 16) & 1:
        raise InvalidInput(f"'{value}' is a multicast MAC address")
    return ":".join(parts)


def _security_groups(
    project_id: str, *, enabled: bool, requested: list[str] | None
) -> list[SecurityGroup]:
    if not enabled:
        if requested:
            raise InvalidInput(
                "Port security must be enabled and port must have an IP address in order to "
                "use security groups."
            )
        return []
    if requested is None:
        return [ensure_default_security_group(project_id)]
    return resolve_security_groups(project_id, requested)


# --- create -----------------------------------------------------------------------------------
def create_port(
    *,
    project_id: str,
    network: Network,
    name: str = "",
    description: str = "",
    admin_state_up: bool = True,
    mac_address: str | None = None,
    fixed_ips: Sequence[FixedIpRequest] | None = None,
    device_id: str = "",
    device_owner: str = "",
    binding_host_id: str = "",
    binding_profile: dict[str, Any] | None = None,
    port_security_enabled: bool | None = None,
    security_groups: list[str] | None = None,
    preserve_on_delete: bool = True,
    nic_index: int | None = None,
    tag: str | None = None,
    hostname: str = "",
    status: str = ResourceStatus.DOWN,
) -> Port:
    """A port of `project_id` on `network` (which the caller may use). All or nothing: an
    address conflict, a full subnet, an unknown group or an exceeded quota leaves no port.
    `security_groups` are ids or names of the project's groups (None: its default)."""
    enabled = (
        network.port_security_enabled if port_security_enabled is None else port_security_enabled
    )
    if device_owner in SERVICE_OWNERS:
        enabled, security_groups = False, []
    with transaction.atomic():
        if device_owner not in HIDDEN_OWNERS:
            usage.reserve(project_id, "port")
        groups = _security_groups(project_id, enabled=enabled, requested=security_groups)
        port = _insert_port(
            mac_address=_normalize_mac(mac_address) if mac_address else None,
            network=network,
            project_id=project_id,
            name=name,
            description=description,
            admin_state_up=admin_state_up,
            device_id=device_id,
            device_owner=device_owner,
            binding_host_id=binding_host_id,
            binding_profile=binding_profile or {},
            port_security_enabled=enabled,
            preserve_on_delete=preserve_on_delete,
            nic_index=nic_index,
            tag=tag,
            hostname=hostname,
            status=status,
        )
        subnets = _subnets(network)
        if fixed_ips is None:
            _allocate_default(port, subnets)
        else:
            _allocate_requested(port, network, subnets, fixed_ips)
        if groups:
            port.security_groups.set(groups)
            if not device_id:  # an instance's allocation tells its hosts itself
                # A new member of the groups: the filters naming them admit its addresses.
                sync.sync_project(project_id)
    return port


# --- update -----------------------------------------------------------------------------------
def _replace_fixed_ips(port: Port, requests: Sequence[FixedIpRequest]) -> None:
    """Keep the addresses still asked for, release the others, allocate the new ones."""
    subnets = _subnets(port.network)
    current = list(port.fixed_ips.all())
    keep: set[int] = set()
    new: list[FixedIpRequest] = []
    for request in requests:
        match = next(
            (
                a
                for a in current
                if a.pk not in keep
                and request.ip_address is not None
                and ipaddress.ip_address(a.ip_address) == addressing.parse_ip(request.ip_address)
                and (request.subnet_id is None or str(a.subnet_id) == str(request.subnet_id))
            ),
            None,
        )
        if match is not None:
            keep.add(match.pk)
        else:
            new.append(request)
    IPAllocation.objects.filter(port=port).exclude(pk__in=keep).delete()
    _allocate_requested(port, port.network, subnets, new)


def update_port(port: Port, *, changes: dict[str, Any]) -> Port:
    """Change what Neutron lets a port's owner change (the API checked who may change
    what): name, description, admin_state_up, device_id, device_owner, binding host and
    profile, mac_address (while unbound), port_security_enabled, security_groups (ids or
    names), fixed_ips (a list of `FixedIpRequest`)."""
    with transaction.atomic():
        locked = Port.objects.select_for_update().select_related("network").get(pk=port.pk)
        fields = dict(changes)
        fixed_ips = fields.pop("fixed_ips", None)
        groups = fields.pop("security_groups", None)
        if "mac_address" in fields:
            mac = _normalize_mac(fields["mac_address"])
            if mac != locked.mac_address and locked.device_id:
                raise PortInUse(
                    port_id=locked.pk, net_id=locked.network_id, device_id=locked.device_id
                )
            fields["mac_address"] = mac
        enabled = fields.get("port_security_enabled", locked.port_security_enabled)
        if groups is not None:
            resolved = _security_groups(str(locked.project_id), enabled=enabled, requested=groups)
        elif not enabled and locked.security_groups.exists():
            raise InvalidInput(
                "Port has security group associated. Cannot disable port security or ip "
                "address until security group is removed"
            )
        else:
            resolved = None
        if fields:
            try:
                with transaction.atomic():
                    Port.objects.filter(pk=locked.pk).update(**fields)
            except IntegrityError as exc:
                if "mac_address" not in ipam.violated_constraint(exc):
                    raise
                raise MacAddressInUse(net_id=locked.network_id, mac=fields["mac_address"]) from None
        if resolved is not None:
            locked.security_groups.set(resolved)
        if fixed_ips is not None:
            _replace_fixed_ips(locked, fixed_ips)
        bump(Port, locked.pk)
        # Its addresses, groups or binding may have changed: its host and its groups' hosts.
        sync.sync_project(str(locked.project_id), also=[locked.binding_host_id])
    port.refresh_from_db()
    return port


def set_status(port_ids: Sequence[Any], status: str) -> int:
    """Set the status of existing ports (the host agent's report); returns how many."""
    return bump_all(
        Port.objects.filter(pk__in=list(port_ids)).exclude(status=status), status=status
    )


# --- delete -----------------------------------------------------------------------------------
def disassociate_floating_ips(port: Port) -> None:
    bump_all(
        FloatingIP.objects.filter(port=port),
        port=None,
        fixed_ip_address=None,
        router=None,
        status=ResourceStatus.DOWN,
    )


def delete_port(port: Port, *, through_api: bool = False) -> None:
    """Remove a port and its addresses; its floating IPs stay, disassociated. Through the
    port API the service's own ports (a router's, a floating IP's) are a 409, an admin's
    request too: their owners' operations remove them."""
    if through_api and port.device_owner in SERVICE_OWNERS:
        raise ServicePortInUse(port_id=port.pk, reason=f"has device owner {port.device_owner}")
    with transaction.atomic():
        disassociate_floating_ips(port)
        Port.objects.filter(pk=port.pk).delete()
        if port.binding_host_id or port.device_owner in SERVICE_OWNERS:
            sync.sync_project(str(port.project_id), also=[port.binding_host_id])

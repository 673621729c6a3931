"""Routers and floating IPs (Neutron's router and external-net extensions).

A router joins subnets through interface ports (device_owner ``network:router_interface``,
each holding its subnet's gateway address, or the address of a port the user gave) and may
have an external gateway: a port on an external network (``network:router_gateway``) whose
address SNATs the subnets when ``enable_snat``. A floating IP is an address of an external
network, held by a port of its own (``network:floatingip``) so that one IPAM hands out fixed
and floating addresses alike; associating it with a port's fixed address needs a router with
a gateway on that external network and an interface on the fixed address's subnet, which is
then the router that DNATs it. Which host runs the routers: apps/networks/hosts.py.
"""

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.networks import lookups, sync, usage
from apps.networks.choices import (
    OWNER_FLOATING_IP,
    OWNER_ROUTER_GATEWAY,
    OWNER_ROUTER_INTERFACE,
    ResourceStatus,
)
from apps.networks.exceptions import (
    ExternalGatewayForFloatingIPNotFound,
    FloatingIPPortAlreadyAssociated,
    InvalidInput,
    PortInUse,
    PortNotFound,
    RouterExternalGatewayInUseByFloatingIp,
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceNotFound,
    RouterInterfaceNotFoundForSubnet,
    RouterInUse,
    SubnetNotFound,
)
from apps.networks.ipam import violated_constraint
from apps.networks.lookups import Scope
from apps.networks.models import FloatingIP, IPAllocation, Network, Port, Router, Subnet
from apps.networks.ports import FixedIpRequest, create_port, delete_port
from apps.networks.revisions import bump

UNSET: Any = object()


@dataclass(frozen=True)
class GatewayRequest:
    """``external_gateway_info``: the external network, SNAT, and (admins) the addresses."""

    network_id: str
    enable_snat: bool | None = None
    external_fixed_ips: list[FixedIpRequest] | None = None


def interface_ports(router: Router) -> list[Port]:
    return list(
        Port.objects.filter(device_owner=OWNER_ROUTER_INTERFACE, device_id=str(router.pk))
        .prefetch_related("fixed_ips__subnet")
        .order_by("created_at", "id")
    )


def _external_network(network_id: str, scope: Scope) -> Network:
    network = lookups.network(network_id, scope)
    if not network.router_external:
        raise InvalidInput(f"Network {network.pk} is not a valid external network")
    return network


# --- gateways ---------------------------------------------------------------------------------
def _set_gateway(router: Router, gateway: GatewayRequest | None, scope: Scope) -> None:
    """Point `router` (locked) at `gateway`'s network, or nowhere (None). A router whose
    floating IPs need the current network keeps it (409)."""
    current = router.external_network_id
    wanted = None if gateway is None else _external_network(gateway.network_id, scope)
    same = (
        wanted is not None and wanted.pk == current and not (gateway and gateway.external_fixed_ips)
    )
    if current is not None and not same and router.floating_ips.exists():
        raise RouterExternalGatewayInUseByFloatingIp(router_id=router.pk, net_id=current)
    snat = True if gateway is None or gateway.enable_snat is None else gateway.enable_snat
    if same:
        bump(Router, router.pk, enable_snat=snat)
        return
    old_port = router.gateway_port
    Router.objects.filter(pk=router.pk).update(external_network=None, gateway_port=None)
    if old_port is not None:
        delete_port(old_port)
    if wanted is None:
        bump(Router, router.pk, enable_snat=True)
        return
    port = create_port(
        project_id=str(router.project_id),
        network=wanted,
        device_id=str(router.pk),
        device_owner=OWNER_ROUTER_GATEWAY,
        fixed_ips=gateway.external_fixed_ips if gateway else None,
        status=ResourceStatus.ACTIVE,
    )
    bump(Router, router.pk, external_network=wanted, gateway_port=port, enable_snat=snat)


@sync.syncs_gateway
def create_router(
    *,
    project_id: str,
    scope: Scope,
    name: str = "",
    description: str = "",
    admin_state_up: bool = True,
    external_gateway: GatewayRequest | None = None,
) -> Router:
    with transaction.atomic():
        usage.reserve(project_id, "router")
        router = Router.objects.create(
            project_id=project_id, name=name, description=description, admin_state_up=admin_state_up
        )
        if external_gateway is not None:
            _set_gateway(router, external_gateway, scope)
    router.refresh_from_db()
    return router


@sync.syncs_gateway
def update_router(
    router: Router, *, scope: Scope, changes: dict[str, Any], external_gateway: Any = UNSET
) -> Router:
    """name, description, admin_state_up; `external_gateway` a `GatewayRequest`, None to
    clear it, or left out."""
    with transaction.atomic():
        locked = Router.objects.select_for_update().get(pk=router.pk)
        if changes:
            bump(Router, locked.pk, **changes)
        if external_gateway is not UNSET:
            _set_gateway(locked, external_gateway, scope)
    router.refresh_from_db()
    return router


@sync.syncs_gateway
def delete_router(router: Router) -> None:
    """409 `RouterInUse` while it has interfaces; its gateway port goes with it."""
    with transaction.atomic():
        locked = Router.objects.select_for_update().filter(pk=router.pk).first()
        if locked is None:
            return
        if interface_ports(locked):
            raise RouterInUse(router_id=locked.pk, reason="still has ports")
        gateway_port = locked.gateway_port
        locked.delete()
        if gateway_port is not None:
            delete_port(gateway_port)


# --- interfaces -------------------------------------------------------------------------------
def _interface_info(router: Router, port: Port) -> dict[str, Any]:
    subnet_ids = [str(a.subnet_id) for a in port.fixed_ips.all()]
    return {
        "id": str(router.pk),
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": str(port.pk),
        "network_id": str(port.network_id),
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
    }


def _check_new_subnets(router: Router, subnets: list[Subnet]) -> None:
    """No two interfaces of a router on overlapping subnets (one on the same subnet
    included)."""
    attached = [a.subnet for port in interface_ports(router) for a in port.fixed_ips.all()]
    for subnet in subnets:
        for other in attached:
            if other.pk == subnet.pk:
                raise InvalidInput(f"Router already has a port on subnet {subnet.pk}")
            if ipaddress.ip_network(other.cidr).overlaps(ipaddress.ip_network(subnet.cidr)):
                raise InvalidInput(
                    f"Cidr {subnet.cidr} of subnet {subnet.pk} overlaps with cidr {other.cidr} "
                    f"of subnet {other.pk}"
                )


@sync.syncs_gateway
def add_router_interface(
    router: Router, *, scope: Scope, subnet_id: str | None = None, port_id: str | None = None
) -> dict[str, Any]:
    """Attach a subnet (a new port holding its gateway address) or a user's unbound port
    (which becomes the router's and is deleted when the interface is removed)."""
    if (subnet_id is None) == (port_id is None):
        raise InvalidInput("Either subnet_id or port_id must be specified")
    with transaction.atomic():
        locked = Router.objects.select_for_update().get(pk=router.pk)
        if subnet_id is not None:
            subnet = lookups.subnet(subnet_id, scope)
            if not scope.owns(subnet.network) and not scope.owns(subnet):
                raise SubnetNotFound(subnet_id=subnet_id)  # seen (shared), not the caller's
            if subnet.gateway_ip is None:
                raise InvalidInput(
                    f"Bad router request: Subnet {subnet.pk} does not have a gateway IP"
                )
            _check_new_subnets(locked, [subnet])
            port = create_port(
                project_id=str(locked.project_id),
                network=subnet.network,
                device_id=str(locked.pk),
                device_owner=OWNER_ROUTER_INTERFACE,
                fixed_ips=[FixedIpRequest(subnet_id=str(subnet.pk), ip_address=subnet.gateway_ip)],
                status=ResourceStatus.ACTIVE,
            )
        else:
            port = lookups.port(port_id, scope, lock=True)
            if port.device_id:
                raise PortInUse(port_id=port.pk, net_id=port.network_id, device_id=port.device_id)
            allocations = list(port.fixed_ips.select_related("subnet"))
            if not allocations:
                raise InvalidInput(
                    f"Bad router request: Router port {port.pk} must have at least one fixed IP"
                )
            _check_new_subnets(locked, [a.subnet for a in allocations])
            port.security_groups.clear()
            bump(
                Port,
                port.pk,
                device_id=str(locked.pk),
                device_owner=OWNER_ROUTER_INTERFACE,
                port_security_enabled=False,
                status=ResourceStatus.ACTIVE,
            )
        bump(Router, locked.pk)
    return _interface_info(locked, port)


@sync.syncs_gateway
def remove_router_interface(
    router: Router, *, subnet_id: str | None = None, port_id: str | None = None
) -> dict[str, Any]:
    """Detach by subnet or port: the interface port is deleted. 409 while a floating IP is
    reached through it."""
    if subnet_id is None and port_id is None:
        raise InvalidInput("Either subnet_id or port_id must be specified")
    with transaction.atomic():
        locked = Router.objects.select_for_update().get(pk=router.pk)
        ports = interface_ports(locked)
        if port_id is not None:
            port = next((p for p in ports if str(p.pk) == str(port_id)), None)
            if port is None:
                raise RouterInterfaceNotFound(router_id=locked.pk, port_id=port_id)
            if subnet_id is not None and not any(
                str(a.subnet_id) == str(subnet_id) for a in port.fixed_ips.all()
            ):
                raise RouterInterfaceNotFoundForSubnet(router_id=locked.pk, subnet_id=subnet_id)
        else:
            port = next(
                (p for p in ports for a in p.fixed_ips.all() if str(a.subnet_id) == str(subnet_id)),
                None,
            )
            if port is None:
                raise RouterInterfaceNotFoundForSubnet(router_id=locked.pk, subnet_id=subnet_id)
        info = _interface_info(locked, port)
        subnets = {a.subnet_id for a in port.fixed_ips.all()}
        for floating in locked.floating_ips.exclude(fixed_ip_address=None).select_related("port"):
            if floating.port_id is None:
                continue
            fixed = IPAllocation.objects.filter(
                port_id=floating.port_id, ip_address=floating.fixed_ip_address
            ).first()
            if fixed is not None and fixed.subnet_id in subnets:
                raise RouterInterfaceInUseByFloatingIP(
                    router_id=locked.pk, subnet_id=fixed.subnet_id
                )
        delete_port(port)
        bump(Router, locked.pk)
    return info


# --- floating IPs -----------------------------------------------------------------------------
def _router_for(floating: FloatingIP, port: Port, fixed: IPAllocation) -> Router:
    """The router that reaches the fixed address from the floating network: a gateway on
    that network and an interface on the fixed address's subnet (404 when none does)."""
    routers = Router.objects.filter(external_network_id=floating.floating_network_id)
    for router in routers.order_by("created_at", "id"):
        on_subnet = IPAllocation.objects.filter(
            subnet_id=fixed.subnet_id,
            port__device_owner=OWNER_ROUTER_INTERFACE,
            port__device_id=str(router.pk),
        ).exists()
        if on_subnet:
            return router
    raise ExternalGatewayForFloatingIPNotFound(
        external_network_id=floating.floating_network_id,
        subnet_id=fixed.subnet_id,
        port_id=port.pk,
    )


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _fixed_address(port: Port, fixed_ip_address: str | None) -> IPAllocation:
    """The port's IPv4 address a floating IP maps to: the one asked for, else its only
    one."""
    v4 = [a for a in port.fixed_ips.all() if ipaddress.ip_address(a.ip_address).version == 4]
    if fixed_ip_address is not None:
        wanted = _parse_ip(fixed_ip_address)
        for allocation in v4:
            if ipaddress.ip_address(allocation.ip_address) == wanted:
                return allocation
        raise InvalidInput(
            f"Bad floatingip request: Port {port.pk} does not have fixed ip {fixed_ip_address}"
        )
    if len(v4) == 1:
        return v4[0]
    if not v4:
        raise InvalidInput(f"Bad floatingip request: Port {port.pk} does not have any IPv4 address")
    raise InvalidInput(
        f"Bad floatingip request: Port {port.pk} has multiple fixed IPv4 addresses. Must "
        "provide a specific IPv4 address when assigning a floating IP"
    )


def _associate(
    floating: FloatingIP, *, port_id: str, fixed_ip_address: str | None, scope: Scope
) -> None:
    """Map `floating` to a fixed address of a port of its project (another project's port
    is a 404, as an unknown one)."""
    port = lookups.port(port_id, scope)
    if port.project_id != floating.project_id and not scope.is_admin:
        raise PortNotFound(port_id=port_id)
    fixed = _fixed_address(port, fixed_ip_address)
    router = _router_for(floating, port, fixed)
    try:
        with transaction.atomic():
            bump(
                FloatingIP,
                floating.pk,
                port=port,
                fixed_ip_address=fixed.ip_address,
                router=router,
                status=ResourceStatus.ACTIVE,
            )
    except IntegrityError as exc:
        if violated_constraint(exc) != "floating_ip_one_per_fixed_ip":
            raise
        raise FloatingIPPortAlreadyAssociated(
            floating_ip_address=floating.floating_ip_address,
            fip_id=floating.pk,
            port_id=port.pk,
            fixed_ip=fixed.ip_address,
            net_id=floating.floating_network_id,
        ) from None


def _disassociate(floating: FloatingIP) -> None:
    bump(
        FloatingIP,
        floating.pk,
        port=None,
        fixed_ip_address=None,
        router=None,
        status=ResourceStatus.DOWN,
    )


@sync.syncs_gateway
def create_floating_ip(
    *,
    project_id: str,
    scope: Scope,
    floating_network_id: str,
    subnet_id: str | None = None,
    floating_ip_address: str | None = None,
    port_id: str | None = None,
    fixed_ip_address: str | None = None,
    description: str = "",
) -> FloatingIP:
    """An address of an external network (of `subnet_id`, or exactly `floating_ip_address`
    for admins; else the next free one), associated at once when `port_id` is given."""
    network = _external_network(floating_network_id, scope)
    floating_id = uuid.uuid4()
    request = None
    if subnet_id is not None or floating_ip_address is not None:
        request = [FixedIpRequest(subnet_id=subnet_id, ip_address=floating_ip_address)]
    with transaction.atomic():
        usage.reserve(project_id, "floatingip")
        holder = create_port(
            project_id=project_id,
            network=network,
            device_id=str(floating_id),
            device_owner=OWNER_FLOATING_IP,
            fixed_ips=request,
            status=ResourceStatus.ACTIVE,
        )
        address = holder.fixed_ips.filter(ip_address__isnull=False).first()
        if address is None:
            raise InvalidInput(f"External network {network.pk} has no subnet to allocate from")
        floating = FloatingIP.objects.create(
            id=floating_id,
            project_id=project_id,
            floating_network=network,
            floating_port=holder,
            floating_ip_address=address.ip_address,
            description=description,
        )
        if port_id is not None:
            _associate(floating, port_id=port_id, fixed_ip_address=fixed_ip_address, scope=scope)
    floating.refresh_from_db()
    return floating


@sync.syncs_gateway
def update_floating_ip(
    floating: FloatingIP,
    *,
    scope: Scope,
    port_id: Any = UNSET,
    fixed_ip_address: str | None = None,
    description: Any = UNSET,
) -> FloatingIP:
    """Associate (`port_id`), disassociate (`port_id` None) or describe a floating IP."""
    with transaction.atomic():
        locked = FloatingIP.objects.select_for_update().get(pk=floating.pk)
        if description is not UNSET:
            bump(FloatingIP, locked.pk, description=description)
        if port_id is None:
            _disassociate(locked)
        elif port_id is not UNSET:
            _associate(locked, port_id=port_id, fixed_ip_address=fixed_ip_address, scope=scope)
    floating.refresh_from_db()
    return floating


@sync.syncs_gateway
def delete_floating_ip(floating: FloatingIP) -> None:
    with transaction.atomic():
        locked = FloatingIP.objects.select_for_update().filter(pk=floating.pk).first()
        if locked is None:
            return
        holder = locked.floating_port
        locked.delete()
        delete_port(holder)

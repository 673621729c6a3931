"""Networks and subnets: create, update, delete (the network API's writes).

A network is VXLAN unless an admin asks for a flat one on a physical network the operator
mapped (``NETWORK_PHYSICAL_BRIDGES``); its VNI comes from apps/networks/segments.py. A
subnet's CIDR may not overlap another subnet of its network: subnet creates lock the network
row, so two overlapping creates cannot both pass the check. Deleting a network takes its
subnets and the ports the service holds on it (router interfaces); any other port is a 409.
"""

import ipaddress
from typing import Any

from django.db import transaction

from apps.networks import addressing, segments, sync, usage
from apps.networks.choices import (
    DEFAULT_MTU,
    MAX_MTU,
    REMOVABLE_WITH_NETWORK,
    NetworkType,
)
from apps.networks.exceptions import InvalidInput, NetworkInUse, SubnetInUse
from apps.networks.hosts import hosts_of_networks
from apps.networks.models import FloatingIP, IPAllocation, Network, Router, Subnet
from apps.networks.revisions import bump
from computecloud.conf import cc_settings
from computecloud.exceptions import Conflict

MIN_MTU = 68
UNSET: Any = object()  # an optional request field that was left out (unlike null)


class InvalidSharedSetting(Conflict):
    msg_fmt = (
        "Unable to reconfigure sharing settings for network %(network)s. Multiple tenants are "
        "using it."
    )


# --- networks ---------------------------------------------------------------------------------
def _segment(
    network_type: str | None, physical_network: str | None, segmentation_id: int | None
) -> dict[str, Any]:
    kind = network_type or (NetworkType.FLAT if physical_network else NetworkType.VXLAN)
    if kind not in NetworkType.values:
        raise InvalidInput(f"network_type value '{kind}' not supported")
    if kind == NetworkType.FLAT:
        if physical_network not in cc_settings.NETWORK_PHYSICAL_BRIDGES:
            raise InvalidInput(
                f"physical_network '{physical_network}' unknown for flat provider network"
            )
        if segmentation_id is not None:
            raise InvalidInput("segmentation_id cannot be specified for flat network")
        return {"network_type": kind, "physical_network": physical_network}
    if physical_network is not None:
        raise InvalidInput("provider:physical_network specified for vxlan network")
    if segmentation_id is not None and not 1 <= segmentation_id <= segments.MAX_VNI:
        raise InvalidInput(f"segmentation_id out of range (1 through {segments.MAX_VNI})")
    return {"network_type": kind, "segmentation_id": segmentation_id}


def _check_mtu(mtu: int, network_type: str) -> None:
    highest = MAX_MTU[NetworkType(network_type)]
    if not MIN_MTU <= mtu <= highest:
        raise InvalidInput(
            f"Requested MTU {mtu} is outside [{MIN_MTU}, {highest}] for a {network_type} network"
        )


def create_network(
    *,
    project_id: str,
    name: str = "",
    description: str = "",
    admin_state_up: bool = True,
    shared: bool = False,
    router_external: bool = False,
    mtu: int | None = None,
    port_security_enabled: bool = True,
    network_type: str | None = None,
    physical_network: str | None = None,
    segmentation_id: int | None = None,
) -> Network:
    """A network of `project_id` (the caller checked who may set shared, router:external
    and the provider attributes)."""
    segment = _segment(network_type, physical_network, segmentation_id)
    kind = segment["network_type"]
    if mtu is not None:
        _check_mtu(mtu, kind)
    with transaction.atomic():
        usage.reserve(project_id, "network")
        return segments.insert_network(
            project_id=project_id,
            name=name,
            description=description,
            admin_state_up=admin_state_up,
            shared=shared,
            router_external=router_external,
            mtu=mtu if mtu is not None else DEFAULT_MTU[NetworkType(kind)],
            port_security_enabled=port_security_enabled,
            **segment,
        )


def update_network(network: Network, *, changes: dict[str, Any]) -> Network:
    """name, description, admin_state_up, mtu, port_security_enabled, shared and
    router:external (the caller checked who may). Unsharing a network other projects have
    ports on is a 409, as is making internal an external network that routers or floating
    IPs use."""
    with transaction.atomic():
        locked = Network.objects.select_for_update().get(pk=network.pk)
        if "mtu" in changes:
            _check_mtu(changes["mtu"], locked.network_type)
        unsharing = changes.get("shared") is False and locked.shared
        if unsharing and locked.ports.exclude(project_id=locked.project_id).exists():
            raise InvalidSharedSetting(network=locked.pk)
        internalising = changes.get("router_external") is False and locked.router_external
        if internalising and _external_users(locked):
            raise NetworkInUse(net_id=locked.pk)
        bump(Network, locked.pk, **changes)
        sync.sync_hosts(hosts_of_networks([locked.pk]))  # its MTU, its name
    network.refresh_from_db()
    return network


def _external_users(network: Network) -> bool:
    return (
        Router.objects.filter(external_network=network).exists()
        or FloatingIP.objects.filter(floating_network=network).exists()
    )


def delete_network(network: Network) -> None:
    """Delete the network, its subnets and its router interfaces; 409 `NetworkInUse` while
    any other port (an instance's, a user's) is on it, or routers and floating IPs use it as
    their external network."""
    with transaction.atomic():
        locked = Network.objects.select_for_update().filter(pk=network.pk).first()
        if locked is None:
            return
        blocking = locked.ports.exclude(device_owner__in=REMOVABLE_WITH_NETWORK)
        if blocking.exists() or _external_users(locked):
            raise NetworkInUse(net_id=locked.pk)
        hosts = hosts_of_networks([locked.pk])  # the gateway host, for a router's interface
        locked.ports.all().delete()
        locked.subnets.all().delete()
        locked.delete()
        sync.sync_hosts(hosts)


# --- subnets ----------------------------------------------------------------------------------
def _check_overlap(network: Network, cidr: addressing.IPNetwork) -> None:
    for other in network.subnets.all():
        if ipaddress.ip_network(other.cidr).overlaps(cidr):
            raise InvalidInput(
                f"Requested subnet with cidr: {cidr} for network: {network.pk} overlaps with "
                "another subnet"
            )


def create_subnet(
    *,
    project_id: str,
    network: Network,
    cidr: str,
    ip_version: int | None = None,
    name: str = "",
    description: str = "",
    gateway_ip: str | None = UNSET,
    allocation_pools: list[dict[str, Any]] | None = None,
    dns_nameservers: list[str] | None = None,
    host_routes: list[dict[str, Any]] | None = None,
    enable_dhcp: bool = True,
) -> Subnet:
    """A subnet of `network` (which the caller may change). `gateway_ip` left out: the
    first host address; None: no gateway. Pools default to the host range minus the
    gateway."""
    parsed = addressing.parse_cidr(cidr)
    if ip_version is not None and ip_version != parsed.version:
        raise InvalidInput(f"Cidr {cidr} does not match ip_version {ip_version}")
    addressing.check_subnet_size(parsed)
    if gateway_ip is UNSET:
        gateway = addressing.default_gateway(parsed)
    elif gateway_ip is None:
        gateway = None
    else:
        gateway = addressing.parse_ip(gateway_ip)
        addressing.check_gateway(parsed, gateway)
    pools = (
        addressing.default_pools(parsed, gateway)
        if allocation_pools is None
        else addressing.parse_pools(parsed, allocation_pools, gateway)
    )
    nameservers = addressing.parse_nameservers(parsed.version, dns_nameservers or [])
    routes = addressing.parse_host_routes(parsed, host_routes or [])
    with transaction.atomic():
        locked = Network.objects.select_for_update().get(pk=network.pk)
        usage.reserve(project_id, "subnet")
        _check_overlap(locked, parsed)
        subnet = Subnet.objects.create(
            network=locked,
            project_id=project_id,
            name=name,
            description=description,
            ip_version=parsed.version,
            cidr=str(parsed),
            gateway_ip=None if gateway is None else str(gateway),
            allocation_pools=[pool.as_dict() for pool in pools],
            dns_nameservers=nameservers,
            host_routes=routes,
            enable_dhcp=enable_dhcp,
        )
        bump(Network, locked.pk)
        sync.sync_hosts(hosts_of_networks([locked.pk]))  # a gateway and DHCP range to serve
    return subnet


def update_subnet(subnet: Subnet, *, changes: dict[str, Any]) -> Subnet:
    """name, description, enable_dhcp, dns_nameservers, host_routes, gateway_ip (null: none;
    not inside a pool; not an address a port holds)."""
    parsed = addressing.parse_cidr(subnet.cidr)
    fields = dict(changes)
    if "dns_nameservers" in fields:
        fields["dns_nameservers"] = addressing.parse_nameservers(
            parsed.version, fields["dns_nameservers"] or []
        )
    if "host_routes" in fields:
        fields["host_routes"] = addressing.parse_host_routes(parsed, fields["host_routes"] or [])
    with transaction.atomic():
        locked = Subnet.objects.select_for_update().get(pk=subnet.pk)
        if "gateway_ip" in fields and fields["gateway_ip"] is not None:
            gateway = addressing.parse_ip(fields["gateway_ip"])
            addressing.check_gateway(parsed, gateway)
            if any(gateway in pool for pool in addressing.pools_from_json(locked.allocation_pools)):
                raise InvalidInput(f"Gateway ip {gateway} conflicts with allocation pool")
            if IPAllocation.objects.filter(subnet=locked, ip_address=str(gateway)).exists():
                raise InvalidInput(f"Gateway ip {gateway} is held by a port")
            fields["gateway_ip"] = str(gateway)
        bump(Subnet, locked.pk, **fields)
        sync.sync_hosts(hosts_of_networks([locked.network_id]))
    subnet.refresh_from_db()
    return subnet


def delete_subnet(subnet: Subnet) -> None:
    """409 `SubnetInUse` while any port holds an address of it (a router interface too:
    remove it from the router first)."""
    with transaction.atomic():
        locked = Subnet.objects.select_for_update().filter(pk=subnet.pk).first()
        if locked is None:
            return
        if IPAllocation.objects.filter(subnet=locked).exists():
            raise SubnetInUse(subnet_id=locked.pk)
        network_id = locked.network_id
        locked.delete()
        bump(Network, network_id)
        sync.sync_hosts(hosts_of_networks([network_id]))

"""What one host's network agent must build (`HostNetworksPayload`, computecloud/wire.py),
and where hosts' VXLAN tunnels end.

- The host's guest ports: ports bound to it (``binding:host_id``) that are not the
  service's own (``network:*``), each with its security rules resolved: a rule's remote
  group becomes the addresses of that group's member ports (of the rule's IP version), a
  remote prefix its network, neither "anywhere" (None); a port without port security gets
  None (no filter).
- The networks of those ports, with their subnets, bridge (apps/networks/naming.py) and the
  tunnel addresses of the other hosts on the network (``remote_vteps``), from `HostTunnel`,
  which the conductor keeps from heartbeats through `record_tunnel_endpoint`.
- Routers, on the gateway host only: ``NETWORK_GATEWAY_HOST`` when set, else the first host
  by name that has reported a tunnel endpoint (in a cloud without tunnels, one host: the
  host its ports are bound to), so one host runs every router (its SNAT and floating IPs)
  and a single-host cloud needs no setting. That host also gets the networks
  the routers join and their external networks, and counts as on those networks for the
  other hosts' ``remote_vteps``.
"""

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from apps.networks.choices import NETWORK_OWNER_PREFIX, OWNER_ROUTER_INTERFACE, NetworkType
from apps.networks.exceptions import InvalidInput
from apps.networks.models import (
    FloatingIP,
    HostTunnel,
    IPAllocation,
    Network,
    Port,
    Router,
    Subnet,
)
from apps.networks.naming import bridge_name
from computecloud.conf import cc_settings
from computecloud.wire import (
    FixedIpPayload,
    FloatingIpPayload,
    HostNetworksPayload,
    NetworkPayload,
    PortPayload,
    RouterInterfacePayload,
    RouterPayload,
    SecurityRulePayload,
    SubnetPayload,
)


# --- tunnel endpoints -------------------------------------------------------------------------
def record_tunnel_endpoint(host: str, ip: str) -> None:
    """Remember where `host`'s VXLAN tunnels end (from its heartbeat); idempotent."""
    try:
        address = str(ipaddress.ip_address(ip))
    except ValueError:
        raise InvalidInput(f"'{ip}' is not a valid tunnel address for host {host}") from None
    with transaction.atomic():
        HostTunnel.objects.update_or_create(host=host, defaults={"tunnel_ip": address})


def gateway_host() -> str | None:
    """The host that runs the routers (see the module's docstring)."""
    configured: str = cc_settings.NETWORK_GATEWAY_HOST
    if configured:
        return configured
    tunnelled = HostTunnel.objects.order_by("host").values_list("host", flat=True).first()
    if tunnelled:
        return tunnelled
    # A cloud without tunnels (one host): the host its guests' ports are bound to.
    return (
        Port.objects.exclude(binding_host_id="")
        .order_by("binding_host_id")
        .values_list("binding_host_id", flat=True)
        .first()
    )


# --- who must hear of a change ----------------------------------------------------------------
def hosts_of_networks(network_ids: Iterable[Any]) -> set[str]:
    """The hosts whose payload shows these networks: hosts with bound ports on them, and the
    gateway host where a router joins them (interface or external gateway)."""
    ids = [pk for pk in network_ids if pk is not None]
    if not ids:
        return set()
    hosts = set(
        Port.objects.filter(network_id__in=ids)
        .exclude(binding_host_id="")
        .values_list("binding_host_id", flat=True)
    )
    gateway = gateway_host()
    if gateway is not None and _router_network_ids() & {str(pk) for pk in ids}:
        hosts.add(gateway)
    return hosts


# --- the payload ------------------------------------------------------------------------------
def _guest_ports(host: str) -> list[Port]:
    return list(
        Port.objects.filter(binding_host_id=host)
        .exclude(device_owner__startswith=NETWORK_OWNER_PREFIX)
        .prefetch_related("fixed_ips", "security_groups__rules")
        .order_by("created_at", "id")
    )


def _subnet_payload(subnet: Subnet) -> SubnetPayload:
    return {
        "id": str(subnet.pk),
        "cidr": subnet.cidr,
        "ip_version": subnet.ip_version,
        "gateway_ip": subnet.gateway_ip,
        "enable_dhcp": subnet.enable_dhcp,
        "dns_nameservers": list(subnet.dns_nameservers),
        "host_routes": list(subnet.host_routes),
    }


def _hosts_by_network(network_ids: Iterable[Any], gateway: str | None) -> dict[str, set[str]]:
    """Which hosts are on each network: those with bound ports there, and the gateway host
    where a router joins it."""
    hosts: dict[str, set[str]] = defaultdict(set)
    rows = (
        Port.objects.filter(network_id__in=list(network_ids))
        .exclude(binding_host_id="")
        .values_list("network_id", "binding_host_id")
        .distinct()
    )
    for network_id, host in rows:
        hosts[str(network_id)].add(host)
    if gateway is not None:
        for routed in _router_network_ids():
            hosts[routed].add(gateway)
    return hosts


def _router_network_ids() -> set[str]:
    interfaces = Port.objects.filter(device_owner=OWNER_ROUTER_INTERFACE).values_list(
        "network_id", flat=True
    )
    externals = Router.objects.exclude(external_network=None).values_list(
        "external_network_id", flat=True
    )
    return {str(pk) for pk in [*interfaces, *externals]}


def _network_payloads(
    network_ids: set[str], host: str, gateway: str | None
) -> list[NetworkPayload]:
    networks = (
        Network.objects.filter(pk__in=network_ids)
        .prefetch_related("subnets")
        .order_by("created_at", "id")
    )
    on_network = _hosts_by_network(network_ids, gateway)
    tunnels = dict(HostTunnel.objects.values_list("host", "tunnel_ip"))
    payloads: list[NetworkPayload] = []
    for network in networks:
        bridge = bridge_name(network)
        if not bridge:
            continue  # a flat network whose physical network the operator unmapped
        others = sorted(on_network[str(network.pk)] - {host})
        vteps = (
            sorted({tunnels[h] for h in others if h in tunnels})
            if network.network_type == NetworkType.VXLAN
            else []
        )
        payloads.append(
            {
                "id": str(network.pk),
                "name": network.name,
                "project_id": network.project_id,
                "network_type": network.network_type,
                "segmentation_id": network.segmentation_id,
                "physical_network": network.physical_network,
                "bridge": bridge,
                "mtu": network.mtu,
                "subnets": [_subnet_payload(s) for s in network.subnets.all()],
                "remote_vteps": vteps,
            }
        )
    return payloads


def _member_addresses(group_ids: set[Any]) -> dict[str, list[str]]:
    """Each group's member ports' addresses, as host prefixes (/32, /128)."""
    members: dict[str, list[str]] = defaultdict(list)
    rows = (
        IPAllocation.objects.filter(port__security_groups__in=list(group_ids))
        .values_list("port__security_groups", "ip_address")
        .order_by("ip_address")
    )
    for group_id, address in rows:
        if group_id in group_ids:
            ip = ipaddress.ip_address(address)
            members[str(group_id)].append(f"{ip}/{ip.max_prefixlen}")
    return members


def _rules(port: Port, members: dict[str, list[str]]) -> list[SecurityRulePayload] | None:
    if not port.port_security_enabled:
        return None
    rules: list[SecurityRulePayload] = []
    for group in port.security_groups.all():
        for rule in group.rules.all():
            prefixes: list[str] | None
            if rule.remote_group_id is not None:
                version = 4 if rule.ethertype == "IPv4" else 6
                prefixes = [
                    p
                    for p in members.get(str(rule.remote_group_id), [])
                    if ipaddress.ip_network(p).version == version
                ]
            elif rule.normalized_cidr is not None:
                prefixes = [rule.normalized_cidr]
            else:
                prefixes = None
            payload: SecurityRulePayload = {
                "direction": rule.direction,
                "ethertype": rule.ethertype,
                "protocol": rule.protocol,
                "port_range_min": rule.port_range_min,
                "port_range_max": rule.port_range_max,
                "remote_ip_prefixes": prefixes,
            }
            if payload not in rules:
                rules.append(payload)
    return rules


def _port_payloads(ports: list[Port]) -> list[PortPayload]:
    remote_groups = {
        rule.remote_group_id
        for port in ports
        for group in port.security_groups.all()
        for rule in group.rules.all()
        if rule.remote_group_id is not None
    }
    members = _member_addresses(remote_groups) if remote_groups else {}
    return [
        {
            "id": str(port.pk),
            "network_id": str(port.network_id),
            "mac_address": port.mac_address,
            "fixed_ips": [
                FixedIpPayload(subnet_id=str(a.subnet_id), ip_address=a.ip_address)
                for a in port.fixed_ips.all()
            ],
            "device_id": port.device_id,
            "project_id": port.project_id,
            "hostname": port.hostname,
            "security_rules": _rules(port, members),
        }
        for port in ports
    ]


def _router_payloads() -> list[RouterPayload]:
    routers = Router.objects.filter(admin_state_up=True).select_related(
        "external_network", "gateway_port"
    )
    interfaces: dict[str, list[RouterInterfacePayload]] = defaultdict(list)
    rows = (
        IPAllocation.objects.filter(port__device_owner=OWNER_ROUTER_INTERFACE)
        .select_related("subnet", "port")
        .order_by("port__created_at", "id")
    )
    for allocation in rows:
        interfaces[allocation.port.device_id].append(
            {
                "network_id": str(allocation.port.network_id),
                "subnet_id": str(allocation.subnet_id),
                "cidr": allocation.subnet.cidr,
            }
        )
    floating: dict[str, list[FloatingIpPayload]] = defaultdict(list)
    for fip in FloatingIP.objects.exclude(router=None).exclude(port=None).order_by("created_at"):
        floating[str(fip.router_id)].append(
            {
                "floating_ip_address": fip.floating_ip_address,
                "fixed_ip_address": fip.fixed_ip_address or "",
            }
        )
    payloads: list[RouterPayload] = []
    for router in routers.order_by("created_at", "id"):
        external_address = external_gateway = external_bridge = None
        if router.gateway_port is not None and router.external_network is not None:
            gateway_ip = (
                router.gateway_port.fixed_ips.select_related("subnet").order_by("id").first()
            )
            if gateway_ip is not None:
                prefix = ipaddress.ip_network(gateway_ip.subnet.cidr).prefixlen
                external_address = f"{gateway_ip.ip_address}/{prefix}"
                external_gateway = gateway_ip.subnet.gateway_ip
            external_bridge = bridge_name(router.external_network) or None
        payloads.append(
            {
                "id": str(router.pk),
                "project_id": router.project_id,
                "interfaces": interfaces.get(str(router.pk), []),
                "external_network_id": (
                    str(router.external_network_id) if router.external_network_id else None
                ),
                "external_bridge": external_bridge,
                "external_address": external_address,
                "external_gateway": external_gateway,
                "enable_snat": router.enable_snat,
                "floating_ips": floating.get(str(router.pk), []),
            }
        )
    return payloads


def host_networks(*, host: str) -> HostNetworksPayload:
    """Everything `host`'s network agent must build, whole (see the module's docstring),
    stamped with the database's clock read first: every reading below sees at least what had
    committed by then, so of two states the later stamp holds the later changes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
        generation = float(cursor.fetchone()[0])
    gateway = gateway_host()
    ports = _guest_ports(host)
    network_ids = {str(port.network_id) for port in ports}
    routers: list[RouterPayload] = []
    if host == gateway:
        routers = _router_payloads()
        network_ids |= _router_network_ids()
    return {
        "networks": _network_payloads(network_ids, host, gateway),
        "ports": _port_payloads(ports),
        "routers": routers,
        "generation": generation,
    }

"""What the compute side asks of the network service (Nova's network API, ours in-process).

The compute API, the conductor and the metadata service call these; the network API
(apps/networks/api/) calls the resource modules next to this one (networks.py, ports.py,
security.py, routers.py). Every write here runs in its own transaction (or the caller's).

- `NicRequest`: one entry of a server create's ``networks`` (or an os-interface attach).
- `check_nic_requests(project_id=, is_admin=, nics=)` -> the NICs with ``network_id`` filled
  for ports; at API time, before anything is made: unknown network -> `NetworkNotFound`
  (Nova: 400), unknown port -> `PortNotFound` (Nova: 400 in a create, 404 in an attach), a
  bound port -> `PortInUse` (409), a fixed IP outside the network -> `FixedIpInvalid` (400),
  taken -> `FixedIpAlreadyInUse` (400), an external network that is not shared ->
  `ExternalNetworkAttachForbidden` (403).
- `auto_network(project_id=)` -> the network id Nova's "auto" (or no ``networks``) means:
  the project's own network if it has exactly one, else the only shared one; `None` when there
  is none; `NetworkAmbiguous` (409) when there are several.
- `allocate_for_instance(project_id=, instance_uuid=, hostname=, nics=, host=,
  availability_zone=, security_groups=)` -> the instance's ports, in NIC order: makes a port
  per network NIC, binds the user's ports. Idempotent (a redelivered build finds the ports of
  its NIC indexes); all or nothing (`IpAddressGenerationFailure` rolls every port back).
- `deallocate_for_instance(instance_uuid=)`: deletes the ports made for the instance, unbinds
  the user's.
- `attach_interface(...)` -> one more port for a running instance; `detach_interface(...)`.
- `set_port_status(port_id=, status=)`: the host agent's BUILD -> ACTIVE (or DOWN).
- `instances_with_address(pattern, version=)` -> the instances whose fixed addresses match
  (the server list's ``ip`` and ``ip6`` filters).
- `instance_addresses([uuid, ...])` -> ``{uuid: {network name: [{"addr", "version",
  "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]}}``; `instance_ports(uuid)` -> os-interface's
  rows; `instance_vifs(uuid)` -> the build payload's `VifPayload` list.
- `instance_security_groups`, `add_instance_security_group`, `remove_instance_security_group`:
  a server's groups (the ``security_groups`` of its ports).
- Host side: `host_networks(host=)` -> `HostNetworksPayload` (apps/networks/hosts.py), and
  `record_tunnel_endpoint(host, ip)`, which the conductor calls from a heartbeat.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Prefetch

from apps.networks import addressing, lookups, sync
from apps.networks.choices import (
    COMPUTE_OWNER_PREFIX,
    DEFAULT_SECURITY_GROUP,
    NETWORK_OWNER_PREFIX,
    ResourceStatus,
)
from apps.networks.exceptions import (
    ExternalNetworkAttachForbidden,
    FixedIpAlreadyInUse,
    FixedIpInvalid,
    InvalidInput,
    NetworkAmbiguous,
    PortInUse,
    PortNotFound,
    SecurityGroupExistsForInstance,
    SecurityGroupNotExistsForInstance,
)
from apps.networks.hosts import host_networks, record_tunnel_endpoint
from apps.networks.lookups import SYSTEM, Scope
from apps.networks.models import FloatingIP, IPAllocation, Network, Port, SecurityGroup
from apps.networks.naming import bridge_name
from apps.networks.ports import FixedIpRequest, create_port, delete_port, set_status
from apps.networks.revisions import bump, bump_all
from apps.networks.security import resolve_security_groups
from computecloud.wire import VifPayload

__all__ = [
    "NicRequest",
    "add_instance_security_group",
    "allocate_for_instance",
    "attach_interface",
    "auto_network",
    "check_nic_requests",
    "deallocate_for_instance",
    "detach_interface",
    "host_networks",
    "instance_addresses",
    "instance_port",
    "instance_ports",
    "instance_security_groups",
    "instance_vifs",
    "instances_with_address",
    "project_networks",
    "record_tunnel_endpoint",
    "remove_instance_security_group",
    "set_port_status",
    "update_instance_host",
]


@dataclass(frozen=True)
class NicRequest:
    """One requested NIC: a network (optionally with a fixed IP) or an existing port; ``tag``
    is the device tag. All optional: a port request names only ``port_id``."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None


def _lock_instance(instance_uuid: str) -> None:
    """Serialise the network work of one instance (a redelivered build against itself, an
    attach against a delete) with a transaction-scoped advisory lock: the ports it would
    look for may not exist yet, so there is no row to lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [instance_uuid])


def _instance_ports(instance_uuid: Any) -> Any:
    """An instance's NICs: its ports but the service's own, in NIC order."""
    return (
        Port.objects.filter(device_id=str(instance_uuid))
        .exclude(device_owner__startswith=NETWORK_OWNER_PREFIX)
        .order_by("nic_index", "created_at", "id")
    )


# --- at API time ------------------------------------------------------------------------------
def _check_fixed_ip(network: Network, fixed_ip: str) -> None:
    try:
        address = ipaddress.ip_address(fixed_ip)
    except ValueError:
        raise FixedIpInvalid(address=fixed_ip, network_id=network.pk) from None
    for subnet in network.subnets.all():
        cidr = ipaddress.ip_network(subnet.cidr)
        if address not in cidr or address not in addressing.host_range(cidr):
            continue
        gateway = subnet.gateway_ip and ipaddress.ip_address(subnet.gateway_ip)
        taken = IPAllocation.objects.filter(subnet=subnet, ip_address=str(address)).exists()
        if taken or address == gateway:
            raise FixedIpAlreadyInUse(address=fixed_ip, network_id=network.pk)
        return
    raise FixedIpInvalid(address=fixed_ip, network_id=network.pk)


def check_nic_requests(
    *, project_id: str, is_admin: bool, nics: Sequence[NicRequest]
) -> list[NicRequest]:
    """Validate a server's (or an attach's) NICs for `project_id` before anything is made;
    returns them with ``network_id`` filled in for ports. Raises as the module docstring
    lists; another project's network or port is unknown (no oracle)."""
    scope = Scope(project_id=project_id, is_admin=is_admin)
    checked: list[NicRequest] = []
    seen_ports: set[str] = set()
    for nic in nics:
        if nic.port_id is not None:
            port = lookups.port(nic.port_id, scope)
            if not scope.owns(port):
                raise PortNotFound(port_id=nic.port_id)
            if port.device_id:
                raise PortInUse(port_id=port.pk, net_id=port.network_id, device_id=port.device_id)
            if str(port.pk) in seen_ports:
                raise InvalidInput(f"Port {port.pk} is requested more than once")
            seen_ports.add(str(port.pk))
            checked.append(replace(nic, port_id=str(port.pk), network_id=str(port.network_id)))
            continue
        network = lookups.network(nic.network_id, scope)
        if network.router_external and not network.shared and not is_admin:
            raise ExternalNetworkAttachForbidden(network_uuid=network.pk)
        if nic.fixed_ip is not None:
            _check_fixed_ip(network, nic.fixed_ip)
        checked.append(replace(nic, network_id=str(network.pk)))
    return checked


def auto_network(*, project_id: str) -> str | None:
    """The network Nova's "auto" picks: the project's own non-external network if it has
    exactly one; with none, the only shared non-external network. None when there is no
    candidate (the caller answers as Nova does); `NetworkAmbiguous` (409) for several."""
    candidates = Network.objects.filter(router_external=False)
    for queryset in (
        candidates.filter(project_id=project_id),
        candidates.filter(shared=True).exclude(project_id=project_id),
    ):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) > 1:
            raise NetworkAmbiguous()
        if ids:
            return str(ids[0])
    return None


def project_networks(*, project_id: str, is_admin: bool = False) -> list[Network]:
    """The networks a project can put servers on (its own and the shared ones, external
    ones excluded): what os-tenant-networks and os-networks list."""
    scope = Scope(project_id=project_id, is_admin=is_admin)
    queryset = Network.objects.usable_by(scope.project_id, is_admin=scope.is_admin)
    return list(queryset.filter(router_external=False).prefetch_related("subnets"))


# --- the build and the delete -----------------------------------------------------------------
def _requested_groups(security_groups: Sequence[str] | None) -> list[str] | None:
    """None (the project's default) for no groups or Nova's own ["default"]."""
    if not security_groups or list(security_groups) == [DEFAULT_SECURITY_GROUP]:
        return None
    return list(security_groups)


def _bind_user_port(
    *, nic: NicRequest, index: int, instance_uuid: str, owner: str, host: str, hostname: str
) -> Port:
    port_id = nic.port_id
    assert port_id is not None  # a port NIC
    bound = bump_all(
        Port.objects.filter(pk=port_id, device_id=""),
        device_id=instance_uuid,
        device_owner=owner,
        binding_host_id=host,
        nic_index=index,
        tag=nic.tag,
        hostname=hostname,
        status=ResourceStatus.BUILD,
    )
    port = Port.objects.get(pk=port_id)
    if not bound:
        raise PortInUse(port_id=port.pk, net_id=port.network_id, device_id=port.device_id)
    return port


def _new_port(
    *,
    project_id: str,
    nic: NicRequest,
    index: int,
    instance_uuid: str,
    owner: str,
    host: str,
    hostname: str,
    groups: list[str] | None,
) -> Port:
    network = lookups.network(nic.network_id, SYSTEM)
    return create_port(
        project_id=project_id,
        network=network,
        device_id=instance_uuid,
        device_owner=owner,
        binding_host_id=host,
        fixed_ips=[FixedIpRequest(ip_address=nic.fixed_ip)] if nic.fixed_ip else None,
        security_groups=groups,
        preserve_on_delete=False,
        nic_index=index,
        tag=nic.tag,
        hostname=hostname,
        status=ResourceStatus.BUILD,
    )


def allocate_for_instance(
    *,
    project_id: str,
    instance_uuid: Any,
    hostname: str,
    nics: Sequence[NicRequest],
    host: str,
    availability_zone: str | None,
    security_groups: Sequence[str] | None = None,
) -> list[Port]:
    """The instance's ports, in NIC order: a new port (``device_owner`` compute:<az>, bound
    to `host`, status BUILD until the host's agent reports it) for each network NIC, with
    the named groups (ids or names; none: the project's default); the user's port for each
    port NIC, bound the same way and kept when the instance goes. `nics` are
    `check_nic_requests`' output.

    Idempotent: a NIC index that already has its port (a redelivered build) is that port,
    rebound to `host`. All or nothing: a full subnet (`IpAddressGenerationFailure`), a taken
    address, a port bound meanwhile (`PortInUse`) or an exceeded quota rolls back every port
    this call made or bound."""
    instance = str(instance_uuid)
    owner = f"{COMPUTE_OWNER_PREFIX}{availability_zone or 'nova'}"
    groups = _requested_groups(security_groups)
    with transaction.atomic():
        _lock_instance(instance)
        existing = {p.nic_index: p for p in _instance_ports(instance) if p.nic_index is not None}
        before = {p.binding_host_id for p in existing.values()}
        ports: list[Port] = []
        for index, nic in enumerate(nics):
            if index in existing:
                port = existing[index]
                if port.binding_host_id != host:
                    bump(Port, port.pk, binding_host_id=host)
            elif nic.port_id is not None:
                port = _bind_user_port(
                    nic=nic,
                    index=index,
                    instance_uuid=instance,
                    owner=owner,
                    host=host,
                    hostname=hostname,
                )
            else:
                port = _new_port(
                    project_id=project_id,
                    nic=nic,
                    index=index,
                    instance_uuid=instance,
                    owner=owner,
                    host=host,
                    hostname=hostname,
                    groups=groups,
                )
            ports.append(port)
        # Members joined the project's groups (and a reschedule left a host): filters change.
        sync.sync_project(project_id, also=before)
    return [Port.objects.prefetch_related("fixed_ips").get(pk=p.pk) for p in ports]


def _release(port: Port) -> None:
    """What an instance gives back: a port it made is deleted, a user's is unbound."""
    if not port.preserve_on_delete:
        delete_port(port)
        return
    bump(
        Port,
        port.pk,
        device_id="",
        device_owner="",
        binding_host_id="",
        nic_index=None,
        tag=None,
        hostname="",
        status=ResourceStatus.DOWN,
    )


def deallocate_for_instance(*, instance_uuid: Any) -> None:
    """Delete the ports made for the instance, unbind the user's (device_id, device_owner and
    binding emptied, DOWN). Idempotent."""
    instance = str(instance_uuid)
    with transaction.atomic():
        _lock_instance(instance)
        ports = list(_instance_ports(instance))
        for port in ports:
            _release(port)
        for project_id in {str(p.project_id) for p in ports}:
            sync.sync_project(project_id, also={p.binding_host_id for p in ports})


def attach_interface(
    *,
    project_id: str,
    is_admin: bool,
    instance_uuid: Any,
    hostname: str,
    host: str,
    availability_zone: str | None,
    nic: NicRequest,
) -> Port:
    """One more NIC for a running instance (os-interface create): a new port on the NIC's
    network (the project's default group) or the user's port, bound to `host` as
    `allocate_for_instance` binds, as the instance's next NIC index. Checks the NIC as
    `check_nic_requests` does."""
    checked = check_nic_requests(project_id=project_id, is_admin=is_admin, nics=[nic])[0]
    instance = str(instance_uuid)
    owner = f"{COMPUTE_OWNER_PREFIX}{availability_zone or 'nova'}"
    with transaction.atomic():
        _lock_instance(instance)
        last = Port.objects.filter(device_id=instance).aggregate(last=Max("nic_index"))["last"]
        index = 0 if last is None else last + 1
        if checked.port_id is not None:
            port = _bind_user_port(
                nic=checked,
                index=index,
                instance_uuid=instance,
                owner=owner,
                host=host,
                hostname=hostname,
            )
        else:
            port = _new_port(
                project_id=project_id,
                nic=checked,
                index=index,
                instance_uuid=instance,
                owner=owner,
                host=host,
                hostname=hostname,
                groups=None,
            )
        sync.sync_project(project_id)
    return Port.objects.prefetch_related("fixed_ips").get(pk=port.pk)


def detach_interface(*, instance_uuid: Any, port_id: Any) -> None:
    """Remove one NIC (os-interface delete): the port made for it is deleted, a user's is
    unbound. `PortNotFound` when the port is not one of the instance's."""
    instance = str(instance_uuid)
    with transaction.atomic():
        _lock_instance(instance)
        port = instance_port(instance, port_id)
        _release(port)
        sync.sync_project(str(port.project_id), also=[port.binding_host_id])


def update_instance_host(*, instance_uuid: Any, host: str) -> None:
    """Bind the instance's ports to the host it now runs on (after a move)."""
    bump_all(_instance_ports(instance_uuid).exclude(binding_host_id=host), binding_host_id=host)


def set_port_status(*, port_id: Any, status: str, host: str | None = None) -> None:
    """The host agent's report (BUILD -> ACTIVE, or DOWN). With `host`, a port bound
    elsewhere by now (moved) is left alone."""
    if status not in ResourceStatus.values or lookups.as_uuid(port_id) is None:
        raise InvalidInput(f"Invalid port status report {port_id}: {status}")
    queryset = Port.objects.filter(pk=port_id)
    if host is not None:
        queryset = queryset.filter(binding_host_id=host)
    set_status(list(queryset.values_list("pk", flat=True)), status)


# --- reads ------------------------------------------------------------------------------------
def instance_ports(instance_uuid: Any) -> list[Port]:
    """The instance's ports in NIC order, addresses loaded (os-interface's rows)."""
    return list(_instance_ports(instance_uuid).prefetch_related("fixed_ips"))


def instance_port(instance_uuid: Any, port_id: Any) -> Port:
    """One of the instance's ports; `PortNotFound` for any other id."""
    if lookups.as_uuid(port_id) is None:
        raise PortNotFound(port_id=port_id)
    port = _instance_ports(instance_uuid).filter(pk=port_id).prefetch_related("fixed_ips").first()
    if port is None:
        raise PortNotFound(port_id=port_id)
    return port


def _address(address: str, kind: str, mac: str) -> dict[str, Any]:
    return {
        "version": ipaddress.ip_address(address).version,
        "addr": address,
        "OS-EXT-IPS:type": kind,
        "OS-EXT-IPS-MAC:mac_addr": mac,
    }


def instance_addresses(instance_uuids: Iterable[Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each instance's ``addresses`` as Nova shows them, keyed by ``str(uuid)``: network
    name -> its NICs' addresses in NIC order, each NIC's fixed addresses then its floating
    ones. An instance without ports maps to ``{}``."""
    keys = [str(u) for u in instance_uuids]
    result: dict[str, dict[str, list[dict[str, Any]]]] = {key: {} for key in keys}
    ports = (
        Port.objects.filter(device_id__in=keys)
        .exclude(device_owner__startswith=NETWORK_OWNER_PREFIX)
        .select_related("network")
        .prefetch_related(
            "fixed_ips",
            Prefetch("floating_ips", queryset=FloatingIP.objects.order_by("created_at", "id")),
        )
        .order_by("device_id", "nic_index", "created_at", "id")
    )
    for port in ports:
        entries = result[port.device_id].setdefault(port.network.name, [])
        by_fixed: dict[str, list[FloatingIP]] = {}
        for floating in port.floating_ips.all():
            by_fixed.setdefault(floating.fixed_ip_address or "", []).append(floating)
        for allocation in port.fixed_ips.all():
            entries.append(_address(allocation.ip_address, "fixed", port.mac_address))
        for allocation in port.fixed_ips.all():
            for floating in by_fixed.get(allocation.ip_address, []):
                entries.append(_address(floating.floating_ip_address, "floating", port.mac_address))
    return result


def instances_with_address(pattern: str, *, version: int) -> list[str]:
    """The instances whose ports hold a fixed address of IP `version` matching `pattern`, a
    PostgreSQL regular expression the caller has checked (Nova's ``ip`` and ``ip6`` server
    list filters: ``10.0.0.1`` also finds ``10.0.0.10``)."""
    rows = (
        IPAllocation.objects.filter(
            subnet__ip_version=version,
            ip_address__regex=pattern,
            port__device_owner__startswith=COMPUTE_OWNER_PREFIX,
        )
        .values_list("port__device_id", flat=True)
        .distinct()
    )
    return list(rows)


def instance_vifs(instance_uuid: Any) -> list[VifPayload]:
    """The build payload's NICs: per port, in NIC order, its bridge, MAC, MTU and its first
    fixed address with the subnet's CIDR, gateway and DNS servers."""
    vifs: list[VifPayload] = []
    ports = _instance_ports(instance_uuid).select_related("network")
    for port in ports.prefetch_related("fixed_ips__subnet"):
        vif: VifPayload = {
            "id": str(port.pk),
            "mac": port.mac_address,
            "bridge": bridge_name(port.network),
            "network_id": str(port.network_id),
            "network_name": port.network.name,
            "mtu": port.network.mtu,
            "ip_address": None,
            "cidr": None,
            "gateway": None,
            "dns": [],
        }
        first = next(iter(port.fixed_ips.all()), None)
        if first is not None:
            vif["ip_address"] = first.ip_address
            vif["cidr"] = first.subnet.cidr
            vif["gateway"] = first.subnet.gateway_ip
            vif["dns"] = list(first.subnet.dns_nameservers)
        vifs.append(vif)
    return vifs


# --- security groups of an instance -----------------------------------------------------------
def instance_security_groups(instance_uuids: Iterable[Any]) -> dict[str, list[str]]:
    """The names of the groups on each instance's ports (Nova's server ``security_groups``),
    keyed by ``str(uuid)``, in the order they were first applied; ``[]`` for none."""
    keys = [str(u) for u in instance_uuids]
    result: dict[str, list[str]] = {key: [] for key in keys}
    rows = (
        SecurityGroup.objects.filter(ports__device_id__in=keys)
        .exclude(ports__device_owner__startswith=NETWORK_OWNER_PREFIX)
        .values_list("ports__device_id", "name")
        .order_by("ports__device_id", "created_at", "id")
    )
    for device_id, name in rows:
        if device_id in result and name not in result[device_id]:
            result[device_id].append(name)
    return result


def _secured_ports(instance_uuid: str) -> list[Port]:
    return list(_instance_ports(instance_uuid).filter(port_security_enabled=True))


def add_instance_security_group(*, project_id: str, instance_uuid: Any, name: str) -> None:
    """Add the project's group (by name or id) to every port of the instance that has port
    security; 400 when it is on them already."""
    instance = str(instance_uuid)
    group = resolve_security_groups(project_id, [name])[0]
    with transaction.atomic():
        _lock_instance(instance)
        ports = _secured_ports(instance)
        if ports and all(p.security_groups.filter(pk=group.pk).exists() for p in ports):
            raise SecurityGroupExistsForInstance(security_group_id=name, instance_id=instance)
        for port in ports:
            port.security_groups.add(group)
        sync.sync_project(project_id)


def remove_instance_security_group(*, project_id: str, instance_uuid: Any, name: str) -> None:
    """Take the project's group (by name or id) off the instance's ports; 400 when none of
    them has it."""
    instance = str(instance_uuid)
    group = resolve_security_groups(project_id, [name])[0]
    with transaction.atomic():
        _lock_instance(instance)
        ports = [
            p for p in _instance_ports(instance) if p.security_groups.filter(pk=group.pk).exists()
        ]
        if not ports:
            raise SecurityGroupNotExistsForInstance(security_group_id=name, instance_id=instance)
        for port in ports:
            port.security_groups.remove(group)
        sync.sync_project(project_id)

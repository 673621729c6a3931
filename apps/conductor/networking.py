"""The conductor's side of a server's networks: ports allocated and bound when the build has a
host, the host's network agent told what to build, interfaces attached and detached.

Networking's rules (IPAM, visibility, security groups) are `apps.networks`'; this module only
says when the build path calls them, and carries their results to the host:

- at build, once a host is assigned: `allocate` binds the server's ports there (idempotent:
  a redelivered build or a reschedule finds the same ports and moves their binding);
- the build payload then carries the server's VIFs (for the hypervisor) and its networks and
  ports (`instance_networks`, for the host's agent to plug before the guest starts);
- when a host starts, and whenever what a host must build changes (security groups, routers,
  floating IPs, another host joining a network), `sync_host` sends it its whole state;
- interfaces attached or detached on a running server report back here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from django.core.cache import cache

from apps.networks import services as networks
from apps.networks import sync
from apps.networks.exceptions import PortNotFound
from apps.servers import history
from apps.servers.models import Server
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit
from computecloud.wire import HostNetworksPayload

logger = logging.getLogger(__name__)

ALLOCATE_EVENT = "compute_allocate_network"


def requested_nics(server: Server) -> list[networks.NicRequest]:
    """The NICs the create request asked for, as create stored them ("none": none)."""
    requested = server.requested_networks
    if not isinstance(requested, list):
        return []
    return [networks.NicRequest(**nic) for nic in requested]


def allocate(server: Server, *, host: str) -> None:
    """Bind the server's ports on `host` (creating those it asked networks for). Raises the
    networks app's error when that cannot be done (a full pool): the build fails."""
    nics = requested_nics(server)
    if not nics:
        return
    ports = networks.allocate_for_instance(
        project_id=server.project_id,
        instance_uuid=str(server.uuid),
        hostname=server.hostname,
        nics=nics,
        host=host,
        availability_zone=server.availability_zone or "nova",
        security_groups=server.security_groups or ["default"],
    )
    logger.info(
        "server %s: %d port(s) bound on %s: %s",
        server.uuid,
        len(ports),
        host,
        ", ".join(str(p.id) for p in ports),
    )


def rebind(server: Server, *, host: str) -> HostNetworksPayload | None:
    """A move: the server's ports bound to `host` now (the hosts it leaves and joins are sent
    their new states); what `host` must plug before the guest starts there, or None."""
    before = {port.binding_host_id for port in networks.instance_ports(str(server.uuid))}
    if not before:
        return None
    networks.update_instance_host(instance_uuid=str(server.uuid), host=host)
    sync.sync_project(str(server.project_id), also=before | {host})
    return instance_networks(str(server.uuid), host=host)


def port_ids(server_uuid: str) -> list[str]:
    """The server's ports: what its host unplugs when it goes."""
    return [str(port.id) for port in networks.instance_ports(server_uuid)]


def set_ports_status(server_uuid: str, *, status: str, host: str) -> None:
    """The server's ports bound to `host` as its host reports them (ACTIVE once plugged)."""
    for port in networks.instance_ports(server_uuid):
        networks.set_port_status(port_id=port.id, status=status, host=host)


def instance_networks(server_uuid: str, *, host: str) -> HostNetworksPayload:
    """The part of `host`'s networks that the server's ports need: their networks and the
    ports themselves (what the host's agent plugs before the guest starts)."""
    whole = networks.host_networks(host=host)
    ports = [p for p in whole["ports"] if p["device_id"] == server_uuid]
    wanted = {p["network_id"] for p in ports}
    return {
        "networks": [n for n in whole["networks"] if n["id"] in wanted],
        "ports": ports,
        "routers": [],
    }


def sync_host(host: str) -> None:
    """Send `host` the whole of what its network agent must build, as committed now."""
    to_compute.sync_networks(enqueue_on_commit, host, payload=networks.host_networks(host=host))


def sync_hosts(hosts: Iterable[str]) -> None:
    """`to_conductor.sync_host_networks`: the hosts a change in the network service touched.
    Each host's "sync queued" mark goes before its state is read: a change committed after
    that asks again, one committed before is in what is read."""
    for host in sorted(set(hosts)):
        cache.delete(sync.pending_key(host))
        sync_host(host)


def interface_attached(
    *, host: str, server_uuid: str, port_id: str, request_id: str | None, ok: bool, fault: dict
) -> None:
    """A host plugged a port into a guest (ACTIVE), or could not (the port is given back: a
    port compute made is deleted, the user's unbound)."""
    server = Server.objects.filter(uuid=server_uuid).first()
    if ok:
        networks.set_port_status(port_id=port_id, status="ACTIVE", host=host)
    else:
        with contextlib.suppress(PortNotFound):  # released meanwhile (the server deleted)
            networks.detach_interface(instance_uuid=server_uuid, port_id=port_id)
    if server is not None and request_id:
        history.finish_event(
            server=server,
            request_id=request_id,
            event="compute_attach_interface",
            ok=ok,
            host=host,
            details=(fault or {}).get("message", "") if not ok else "",
        )
    logger.info(
        "server %s: port %s %s on %s",
        server_uuid,
        port_id,
        "attached" if ok else "failed to attach",
        host,
    )


def interface_detached(
    *, host: str, server_uuid: str, port_id: str, request_id: str | None, ok: bool, fault: dict
) -> None:
    """A host unplugged a port from a guest: the port is released (deleted if compute made
    it, else unbound). If the guest kept it, the port stays bound and the action failed."""
    server = Server.objects.filter(uuid=server_uuid).first()
    if ok:
        with contextlib.suppress(PortNotFound):  # released meanwhile (the server deleted)
            networks.detach_interface(instance_uuid=server_uuid, port_id=port_id)
    if server is not None and request_id:
        history.finish_event(
            server=server,
            request_id=request_id,
            event="compute_detach_interface",
            ok=ok,
            host=host,
            details=(fault or {}).get("message", "") if not ok else "",
        )
    logger.info(
        "server %s: port %s %s on %s",
        server_uuid,
        port_id,
        "detached" if ok else "failed to detach",
        host,
    )

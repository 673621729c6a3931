"""A server's network interfaces (os-interface): list, attach and detach on a running or
stopped server, as Nova does it.

The ports are the network service's (`apps.networks`): attach makes or binds one there first,
so the user sees it at once (``port_state`` BUILD until the host has plugged it); the host then
plugs it into the guest and reports back to the conductor (apps/conductor/networking.py), which
marks it ACTIVE or gives it back. Detach is asynchronous too (202): the port is released once
the guest has let it go.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from apps.identity.context import RequestContext
from apps.networks import exceptions as network_errors
from apps.networks import services as networks
from apps.networks.models import Port
from apps.servers import states
from apps.servers.history import record_action, start_event
from apps.servers.models import Server
from computecloud.exceptions import Conflict, InvalidInput, NotFound
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit

logger = logging.getLogger(__name__)

ATTACH_EVENT = "compute_attach_interface"
DETACH_EVENT = "compute_detach_interface"


def _row(port: Port) -> dict[str, Any]:
    return {
        "port_id": str(port.id),
        "net_id": str(port.network_id),
        "mac_addr": port.mac_address,
        "port_state": port.status,
        "fixed_ips": [
            {"subnet_id": str(ip.subnet_id), "ip_address": str(ip.ip_address)}
            for ip in port.fixed_ips.all()
        ],
        "tag": port.tag,
    }


def list_interfaces(server: Server) -> list[dict[str, Any]]:
    """os-interface's rows: port_id, net_id, mac_addr, port_state, fixed_ips, tag."""
    return [_row(port) for port in networks.instance_ports(str(server.uuid))]


def get_interface(server: Server, port_id: str) -> dict[str, Any]:
    """One of the server's interfaces; any other port id (another project's included) is the
    same 404."""
    try:
        return _row(networks.instance_port(str(server.uuid), port_id))
    except network_errors.PortNotFound:
        raise NotFound(f"Port {port_id} is not attached") from None


def attach_interface(
    *,
    context: RequestContext,
    server: Server,
    request_id: str,
    network_id: str | None = None,
    port_id: str | None = None,
    fixed_ip: str | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    """One more NIC for the server: a new port on `network_id` (optionally at `fixed_ip`),
    or the user's `port_id`; neither: the network "auto" would choose."""
    if network_id and port_id:
        raise InvalidInput("Must not input both network_id and port_id")
    uuid = str(server.uuid)
    with transaction.atomic():
        states.transition(server, action="attach_interface", allowed=states.ALLOW_INTERFACE)
        if not server.host:
            raise Conflict(f"Instance {uuid} has no host to attach an interface on.")
        try:
            if not network_id and not port_id:
                network_id = networks.auto_network(project_id=server.project_id)
                if network_id is None:
                    raise InvalidInput(
                        f"No network is available to attach an interface to instance {uuid}."
                    )
            port = networks.attach_interface(
                project_id=server.project_id,
                is_admin=context.is_admin,
                instance_uuid=uuid,
                hostname=server.hostname,
                nic=networks.NicRequest(
                    network_id=network_id, port_id=port_id, fixed_ip=fixed_ip, tag=tag
                ),
                host=server.host,
                availability_zone=server.availability_zone or "nova",
            )
        except (network_errors.NetworkNotFound, network_errors.PortNotFound) as exc:
            raise NotFound(str(exc)) from exc
        except (
            network_errors.PortInUse,
            network_errors.FixedIpAlreadyInUse,
            network_errors.NetworkAmbiguous,
        ) as exc:
            raise Conflict(str(exc)) from exc
        except (network_errors.FixedIpInvalid, network_errors.IpAddressGenerationFailure) as exc:
            raise InvalidInput(str(exc)) from exc
        port_id = str(port.id)
        record_action(
            server=server, action="attach_interface", context=context, request_id=request_id
        )
        start_event(server=server, request_id=request_id, event=ATTACH_EVENT, host=server.host)
        vif = next(v for v in networks.instance_vifs(uuid) if v["id"] == port_id)
        whole = networks.host_networks(host=server.host)
        to_compute.attach_interface(
            enqueue_on_commit,
            server.host,
            payload={
                "server_uuid": uuid,
                "port_id": port_id,
                "request_id": request_id,
                "vif": vif,
                "networks": {
                    "networks": [n for n in whole["networks"] if n["id"] == vif["network_id"]],
                    "ports": [p for p in whole["ports"] if p["id"] == port_id],
                    "routers": [],
                },
            },
        )
    logger.info("server %s: attaching port %s (%s)", uuid, port_id, request_id)
    return get_interface(server, port_id)


def detach_interface(
    *, context: RequestContext, server: Server, port_id: str, request_id: str
) -> None:
    """Ask the server's host to unplug `port_id` (which must be the server's: 404 otherwise,
    the same answer for another project's port as for a made-up id)."""
    uuid = str(server.uuid)
    get_interface(server, port_id)
    with transaction.atomic():
        states.transition(server, action="detach_interface", allowed=states.ALLOW_INTERFACE)
        record_action(
            server=server, action="detach_interface", context=context, request_id=request_id
        )
        start_event(server=server, request_id=request_id, event=DETACH_EVENT, host=server.host)
        to_compute.detach_interface(
            enqueue_on_commit,
            server.host,
            payload={"server_uuid": uuid, "port_id": port_id, "request_id": request_id},
        )
    logger.info("server %s: detaching port %s (%s)", uuid, port_id, request_id)

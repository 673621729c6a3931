"""Server create: a validated request, checked (flavor, image, key, zone, destination, group,
hints), counted against the quota under the project lock, written as servers with their
metadata, tags, group membership and create action, and handed to the conductor."""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from apps.hosts.choices import DEFAULT_AVAILABILITY_ZONE
from apps.hosts.models import Aggregate, ComputeNode
from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.identity.policy import authorize
from apps.networks import exceptions as network_errors
from apps.networks import services as networks
from apps.networks.security import resolve_security_groups
from apps.networks.services import NicRequest
from apps.quotas import services as quotas
from apps.servers import block_devices
from apps.servers.block_devices import BootDevices
from apps.servers.choices import TaskState, VmState
from apps.servers.exceptions import ServerGroupNotFound
from apps.servers.groups import count_server_group_members
from apps.servers.history import record_action
from apps.servers.models import (
    BlockDeviceMapping,
    Server,
    ServerGroup,
    ServerGroupMember,
    ServerMetadata,
    ServerTag,
)
from apps.servers.resolvers import flavor_snapshot, key_data_for, resolve_flavor, resolve_image
from apps.servers.services import count_servers, visible_servers
from apps.volumes import attachments as volume_attachments
from apps.volumes import exceptions as volume_errors
from apps.volumes.models import Volume
from computecloud.conf import cc_settings
from computecloud.exceptions import Conflict, Forbidden, InvalidInput
from computecloud.messages import to_conductor
from computecloud.tasking import enqueue_on_commit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateRequest:
    """A validated create request (the API layer has checked types and shapes)."""

    name: str
    flavor_ref: str
    image_ref: str
    min_count: int = 1
    max_count: int = 1
    key_name: str | None = None
    user_data: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    networks: str | list[NicRequest] = "auto"  # "auto", "none" or the NICs in order
    security_groups: list[str] = field(default_factory=list)  # names or ids; none: default
    block_device_mapping: list[dict[str, Any]] = field(default_factory=list)
    config_drive: bool = False
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    hostname: str | None = None
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    # 2.74: a host and/or node the build should land on, still passing the filters (admins).
    requested_host: str | None = None
    requested_node: str | None = None
    version: tuple[int, int] = (2, 1)  # the request's microversion (mapping keys depend on it)


_HOSTNAME_BAD = re.compile(r"[^a-z0-9-]+")


def sanitize_hostname(name: str) -> str:
    """A DNS label from a display name, as Nova derives it."""
    hostname = _HOSTNAME_BAD.sub("-", name.lower().replace("_", "-").replace(" ", "-"))
    hostname = hostname.strip("-.")[:63]
    return hostname or "server"


def _availability_zones() -> set[str]:
    zones = {DEFAULT_AVAILABILITY_ZONE}
    for metadata in Aggregate.objects.values_list("metadata", flat=True):
        if metadata.get("availability_zone"):
            zones.add(metadata["availability_zone"])
    return zones


def _resolve_zone(context: RequestContext, requested: str | None) -> tuple[str | None, dict | None]:
    """(zone, forced destination) from "zone", "zone:host" or "zone:host:node" (the forced
    forms under ``os_compute_api:servers:create:forced_host``, admins by default)."""
    if not requested:
        return None, None
    zone, _, rest = requested.partition(":")
    host, _, node = rest.partition(":")
    destination = None
    if host or node:
        authorize(context, "os_compute_api:servers:create:forced_host")
        destination = {"host": host or None, "node": node or None, "force": True}
    if zone and zone not in _availability_zones():
        raise InvalidInput(f"The requested availability zone is not available: {zone}")
    return zone or None, destination


def _resolve_requested_destination(
    context: RequestContext, *, host: str | None, node: str | None
) -> dict | None:
    """2.74's ``host``/``hypervisor_hostname``: a destination the filters still judge, under
    ``compute:servers:create:requested_destination`` (admins by default); each must name a
    compute host we know (Nova's 400 otherwise)."""
    if not host and not node:
        return None
    authorize(context, "compute:servers:create:requested_destination")
    nodes = ComputeNode.objects.all()
    if host and not nodes.filter(host=host).exists():
        raise InvalidInput(f"Compute host {host} could not be found.")
    if node:
        found = nodes.filter(hypervisor_hostname=node)
        if host:
            found = found.filter(host=host)
        row = found.first()
        if row is None:
            raise InvalidInput(f"Compute host {host or ''} with node {node} could not be found.")
        host = row.host
    return {"host": host, "node": node or None, "force": False}


def _resolve_group(context: RequestContext, hints: dict[str, Any]) -> ServerGroup | None:
    group_id = hints.get("group")
    if not group_id:
        return None
    try:
        uuid.UUID(str(group_id))
    except ValueError:
        raise InvalidInput(f"Invalid scheduler hint group {group_id}.") from None
    group = ServerGroup.objects.filter(uuid=group_id, project_id=context.project_id).first()
    if group is None:
        raise ServerGroupNotFound(group_uuid=group_id)
    return group


def _check_hinted_servers(context: RequestContext, hints: dict[str, Any]) -> None:
    """same_host / different_host may name only servers the caller can see: another project's
    server would let a user probe where it runs (and land beside it). An unknown id and a
    foreign one get the same answer."""
    named = {*hints.get("same_host", ()), *hints.get("different_host", ())}
    if not named:
        return
    found = {
        str(u)
        for u in visible_servers(context, all_tenants=True)
        .filter(uuid__in=named)
        .values_list("uuid", flat=True)
    }
    missing = sorted(named - found)
    if missing:
        raise InvalidInput(f"Invalid scheduler hint: server {missing[0]} could not be found.")


def _resolve_nics(
    context: RequestContext, requested: str | list[NicRequest], *, max_count: int
) -> list[NicRequest]:
    """The NICs to give each server, checked against what the project may use, with Nova's
    answers (an unknown network or port is a 400 here, a port in use a 409)."""
    if requested == "none":
        return []
    try:
        if requested == "auto":
            network_id = networks.auto_network(project_id=context.project_id)
            # No network at all: the server boots without a NIC (logged by the caller).
            return [NicRequest(network_id=network_id)] if network_id else []
        assert isinstance(requested, list)
        if max_count > 1 and any(nic.port_id for nic in requested):
            raise InvalidInput(
                "Unable to launch multiple instances with a single configured port ID. "
                "Please launch your instance one by one with different ports."
            )
        if max_count > 1 and any(nic.fixed_ip for nic in requested):
            raise InvalidInput("max_count cannot be greater than 1 if an fixed_ip is specified.")
        return networks.check_nic_requests(
            project_id=context.project_id, is_admin=context.is_admin, nics=requested
        )
    except (network_errors.NetworkAmbiguous, network_errors.PortInUse) as exc:
        raise Conflict(str(exc)) from exc
    except network_errors.ExternalNetworkAttachForbidden as exc:
        raise Forbidden(str(exc)) from exc
    except (
        network_errors.NetworkNotFound,
        network_errors.PortNotFound,
        network_errors.FixedIpInvalid,
        network_errors.FixedIpAlreadyInUse,
    ) as exc:
        raise InvalidInput(str(exc)) from exc


def _resolve_security_groups(context: RequestContext, requested: list[str]) -> list[str]:
    """The ids of the named groups (the project's or, for admins, any); 400 for one it cannot
    see, as Nova answers."""
    if not requested:
        return []
    try:
        groups = resolve_security_groups(context.project_id, requested)
    except network_errors.SecurityGroupNotFound as exc:
        raise InvalidInput(str(exc)) from exc
    return [str(group.id) for group in groups]


def _boot_image(context: RequestContext, devices: BootDevices, flavor: Any) -> dict[str, Any]:
    """The image facts the server keeps: the local root disk's image, checked against the
    flavor; for a root volume, what the volume was (or will be) made from, with ``id`` empty
    (the API shows ``image: ""`` for a server booted from a volume, as Nova does)."""
    root = devices.root_volume
    if root is None:
        return resolve_image(context, devices.image_id or "", flavor)
    if root.source_type == "image":
        # The volume's size holds the image, not the flavor's disk: only memory is checked.
        diskless = copy.copy(flavor)
        diskless.root_gb = 0
        image = dict(resolve_image(context, root.uuid or "", diskless))
        return {**image, "id": "", "source_image_id": image["id"]}
    if root.source_type == "volume":
        return block_devices.root_volume_meta(root)
    return {"id": "", "properties": {}}


def _reserve_volumes(server: Server, devices: BootDevices) -> None:
    """The existing volumes the server boots with are taken for it now (the root as vda),
    as Nova reserves them in the API; volumes the build makes get their rows on the host
    the scheduler picks (apps/conductor/volumes.py)."""
    for entry in devices.volumes:
        if entry.source_type != "volume":
            continue
        volume = Volume.objects.select_related("pool").get(pk=entry.uuid)
        try:
            attachment = volume_attachments.reserve(
                volume, instance_uuid=str(server.uuid), host=None
            )
        except volume_errors.VolumeNotAvailable as exc:
            raise InvalidInput(str(exc)) from exc
        BlockDeviceMapping.objects.create(
            server=server,
            volume_id=volume.pk,
            attachment_id=attachment.pk,
            source_type="volume",
            boot_index=entry.boot_index,
            device_name="/dev/vda" if entry.boot_index == 0 else "",
            disk_bus=entry.disk_bus or "",
            delete_on_termination=entry.delete_on_termination,
            tag=entry.tag,
        )


def create_servers(
    *, context: RequestContext, request: CreateRequest, request_id: str
) -> tuple[list[Server], str]:
    """Validate, check quota under the project lock, create the servers and hand them to the
    conductor. Returns the servers and the reservation id."""
    if request.min_count > request.max_count:
        raise InvalidInput("min_count must be <= max_count")
    devices = block_devices.plan(
        context=context,
        mappings=request.block_device_mapping,
        image_ref=request.image_ref,
        version=request.version,
        max_count=request.max_count,
    )
    flavor = resolve_flavor(context, request.flavor_ref)
    image = _boot_image(context, devices, flavor)
    key_data = key_data_for(context, request.key_name)
    zone, destination = _resolve_zone(context, request.availability_zone)
    destination = destination or _resolve_requested_destination(
        context, host=request.requested_host, node=request.requested_node
    )
    group = _resolve_group(context, request.scheduler_hints)
    _check_hinted_servers(context, request.scheduler_hints)
    nics = _resolve_nics(context, request.networks, max_count=request.max_count)
    security_groups = _resolve_security_groups(context, request.security_groups)
    snapshot = flavor_snapshot(flavor)
    reservation_id = f"r-{secrets.token_hex(4)}"

    with transaction.atomic():
        # Counted under the project lock: concurrent creates queue, each count has the others.
        project: Project = quotas.lock_project(context.project_id)
        count = quotas.allowed_server_count(
            project=project,
            used=count_servers(project.pk),
            min_count=request.min_count,
            max_count=request.max_count,
            cores=flavor.vcpus,
            ram=flavor.memory_mb,
            metadata_items=len(request.metadata),
        )
        if group is not None:
            quotas.check_server_group_members(
                project_id=group.project_id, used=count_server_group_members(group), adding=count
            )
        servers = []
        for index in range(count):
            name = request.name if count == 1 else f"{request.name}-{index + 1}"
            server = Server.objects.create(
                name=name,
                description=request.description,
                project=project,
                user_id=context.user_id,
                flavor_id=flavor.flavorid,
                flavor=snapshot,
                vcpus=flavor.vcpus,
                memory_mb=flavor.memory_mb,
                # A root volume is the server's disk: the flavor's is not used.
                root_gb=0 if devices.root_volume else flavor.root_gb,
                image_ref=image["id"],
                image_meta=image,
                availability_zone=zone,
                requested_availability_zone=zone,
                vm_state=VmState.BUILDING,
                task_state=TaskState.SCHEDULING,
                hostname=request.hostname or sanitize_hostname(name),
                key_name=request.key_name,
                key_data=key_data,
                user_data=request.user_data,
                config_drive=request.config_drive or bool(cc_settings.FORCE_CONFIG_DRIVE),
                access_ip_v4=request.access_ip_v4,
                access_ip_v6=request.access_ip_v6,
                requested_networks=[dataclasses.asdict(nic) for nic in nics],
                security_groups=security_groups,
                block_device_mapping=[v.as_dict() for v in devices.volumes],
                scheduler_hints=request.scheduler_hints,
                requested_destination=destination,
                reservation_id=reservation_id,
                launch_index=index,
            )
            ServerMetadata.objects.bulk_create(
                ServerMetadata(server=server, key=k, value=v) for k, v in request.metadata.items()
            )
            ServerTag.objects.bulk_create(ServerTag(server=server, tag=t) for t in request.tags)
            _reserve_volumes(server, devices)
            if group is not None:
                ServerGroupMember.objects.create(group=group, server=server)
            record_action(server=server, action="create", context=context, request_id=request_id)
            servers.append(server)
        to_conductor.schedule_and_build_servers(
            enqueue_on_commit, server_uuids=[str(s.uuid) for s in servers], request_id=request_id
        )
    for server in servers:
        logger.info(
            "server %s (%s) accepted for project %s, flavor %s, image %s",
            server.uuid,
            server.name,
            context.project_id,
            flavor.name,
            image["id"],
        )
    return servers, reservation_id

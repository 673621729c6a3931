"""A server's volumes (os-volume_attachments): list, attach and detach on a running or stopped
server, as Nova does it.

The volume service keeps the volume and its attachment (`apps.volumes.attachments`); the
server keeps a block device mapping (which device, delete_on_termination, the tag). Attach
reserves the volume and records the mapping at once, so the answer names the device; the
host then plugs the disk in and reports to the conductor (apps/conductor/volumes.py), which
marks it in use or gives it back. Detach is asynchronous too (202): the mapping goes once
the guest has let the disk go.
"""

from __future__ import annotations

import logging
import string
from typing import Any

from django.db import transaction

from apps.identity.context import RequestContext
from apps.servers import states
from apps.servers.history import record_action, start_event
from apps.servers.models import BlockDeviceMapping, Server
from apps.servers.services import check_not_locked
from apps.volumes import attachments as volumes
from apps.volumes import exceptions as volume_errors
from computecloud.exceptions import Forbidden, InvalidInput, NotFound
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit

logger = logging.getLogger(__name__)

ATTACH_EVENT = "compute_attach_volume"
DETACH_EVENT = "compute_detach_volume"
# Disks a guest may have on its virtio bus (Nova's libvirt driver: vda..vdz).
DISK_NAMES = tuple(f"vd{letter}" for letter in string.ascii_lowercase)


def list_attachments(server: Server) -> list[BlockDeviceMapping]:
    """The server's volumes, its root volume included, in the order they were attached."""
    return list(server.block_devices.all())


def get_attachment(server: Server, volume_id: str) -> BlockDeviceMapping:
    """One of the server's volumes; any other id (another project's volume included) is the
    same 404."""
    for bdm in server.block_devices.all():
        if str(bdm.volume_id) == str(volume_id):
            return bdm
    raise NotFound(f"Volume {volume_id} is not attached to server {server.uuid}")


def volumes_attached(server: Server) -> list[dict[str, Any]]:
    """``os-extended-volumes:volumes_attached``: every volume of the server, root included."""
    return [
        {"id": str(bdm.volume_id), "delete_on_termination": bdm.delete_on_termination}
        for bdm in server.block_devices.all()
    ]


def _local_disks(server: Server) -> list[str]:
    """The disks the server has from its flavor and image: the root disk (unless a volume
    is), then ephemeral and swap, in the order the host names them."""
    flavor = server.flavor or {}
    count = 0 if server.block_devices.filter(boot_index=0).exists() else 1
    count += bool(flavor.get("ephemeral")) + bool(flavor.get("swap"))
    return list(DISK_NAMES[:count])


def next_device(server: Server, requested: str | None) -> str:
    """The device the volume gets: the one asked for when it is free, else the first free
    name after the server's disks. Raises `Forbidden` (403, as Nova) when none is left."""
    taken = set(_local_disks(server)) | {
        bdm.device_name.removeprefix("/dev/") for bdm in server.block_devices.all()
    }
    wanted = (requested or "").removeprefix("/dev/")
    if wanted in DISK_NAMES and wanted not in taken:
        return f"/dev/{wanted}"
    for name in DISK_NAMES:
        if name not in taken:
            return f"/dev/{name}"
    raise Forbidden("The maximum allowed number of disk devices to attach to a server is reached.")


def attach_volume(
    *,
    context: RequestContext,
    server: Server,
    volume_id: str,
    request_id: str,
    device: str | None = None,
    tag: str | None = None,
    delete_on_termination: bool = False,
) -> BlockDeviceMapping:
    """Give `server` the project's volume `volume_id`: reserved now, plugged by the host."""
    check_not_locked(server, context)
    uuid = str(server.uuid)
    try:
        volume = volumes.find_volume(
            project_id=context.project_id, is_admin=context.is_admin, volume_id=volume_id
        )
    except volume_errors.VolumeNotFound as exc:
        raise NotFound(str(exc)) from exc
    if volume.multiattach:
        raise InvalidInput("Multiattach volumes are not supported by this cloud.")
    with transaction.atomic():
        # Locks the server's row: two attaches to one server pick their devices in turn.
        server = Server.objects.select_for_update().get(pk=server.pk)
        states.transition(server, action="attach_volume", allowed=states.ALLOW_VOLUME)
        if not server.host:
            raise InvalidInput(f"Instance {uuid} has no host to attach a volume on.")
        attachment = volumes.reserve(volume, instance_uuid=uuid, host=server.host)
        bdm = BlockDeviceMapping.objects.create(
            server=server,
            volume_id=volume.pk,
            attachment_id=attachment.pk,
            device_name=next_device(server, device),
            delete_on_termination=delete_on_termination,
            tag=tag,
        )
        record_action(server=server, action="attach_volume", context=context, request_id=request_id)
        start_event(server=server, request_id=request_id, event=ATTACH_EVENT, host=server.host)
        to_compute.attach_volume(
            enqueue_on_commit,
            server.host,
            payload={
                "server_uuid": uuid,
                "attachment_id": str(attachment.pk),
                "request_id": request_id,
                "block_device": volumes.block_device(
                    volume, device_name=bdm.device_name.removeprefix("/dev/")
                ),
            },
        )
    logger.info(
        "server %s: attaching volume %s as %s (%s)", uuid, volume.pk, bdm.device_name, request_id
    )
    return bdm


def detach_volume(
    *, context: RequestContext, server: Server, volume_id: str, request_id: str
) -> None:
    """Ask the server's host to unplug `volume_id` (one of the server's: 404 otherwise)."""
    check_not_locked(server, context)
    uuid = str(server.uuid)
    bdm = get_attachment(server, volume_id)
    if bdm.boot_index == 0:
        raise InvalidInput("Cannot detach a root device volume")
    with transaction.atomic():
        states.transition(server, action="detach_volume", allowed=states.ALLOW_VOLUME)
        try:
            volumes.begin_detach(volume_id=bdm.volume_id, instance_uuid=uuid)
        except volume_errors.VolumeNotAvailable as exc:
            raise InvalidInput(str(exc)) from exc
        record_action(server=server, action="detach_volume", context=context, request_id=request_id)
        start_event(server=server, request_id=request_id, event=DETACH_EVENT, host=server.host)
        to_compute.detach_volume(
            enqueue_on_commit,
            server.host,
            payload={
                "server_uuid": uuid,
                "volume_id": str(bdm.volume_id),
                "attachment_id": str(bdm.attachment_id or ""),
                "device_name": bdm.device_name.removeprefix("/dev/") or None,
                "request_id": request_id,
            },
        )
    logger.info("server %s: detaching volume %s (%s)", uuid, bdm.volume_id, request_id)

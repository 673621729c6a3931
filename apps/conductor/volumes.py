"""The conductor's side of volumes: what hosts report about their pools and about the
storage operations and attachments they carried out.

Storage results are the volume service's to record (`apps.volumes.services`); attachments
change a server too (its block device mappings, its action history), so they are settled
here with both apps' services."""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction

from apps.images.models import Image
from apps.quotas import services as quotas
from apps.servers import history
from apps.servers import volumes as server_volumes
from apps.servers.block_devices import VolumeMapping
from apps.servers.choices import VmState
from apps.servers.models import BlockDeviceMapping, Server
from apps.volumes import attachments, pools, reports
from apps.volumes import services as volume_services
from apps.volumes.choices import AttachStatus, VolumeStatus
from apps.volumes.models import StoragePool, Volume, VolumeAttachment, VolumeSnapshot, VolumeType
from computecloud.exceptions import ComputecloudError
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit
from computecloud.wire import BlockDevicePayload, StoragePoolPayload, VolumeCreatePayload

logger = logging.getLogger(__name__)

# The build's step that makes its volumes (Nova's name), in the instance's action history.
BLOCK_DEVICE_EVENT = "compute_prep_block_device"


def record_pool(*, host: str, storage: StoragePoolPayload | None) -> None:
    """A host's heartbeat or start-up carried its volume pool (None: it keeps none)."""
    pools.report_pool(host=host, storage=storage)


def volume_done(
    *,
    host: str,
    operation: str,
    volume_id: str,
    snapshot_id: str | None,
    request_id: str | None,
    ok: bool,
    fault: dict[str, Any],
) -> None:
    reports.operation_done(
        host=host,
        operation=operation,
        volume_id=volume_id,
        snapshot_id=snapshot_id,
        request_id=request_id,
        ok=ok,
        fault=fault,
    )


def volume_attached(
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None,
    fault: dict[str, Any],
) -> None:
    """A host plugged a volume into a guest (the volume ``in-use``, the mapping attached on
    the device the domain used), or could not (the volume given back, the mapping gone)."""
    server = Server.objects.filter(uuid=server_uuid).first()
    with transaction.atomic():
        if ok:
            device_name = f"/dev/{device}" if device else ""
            if attachments.attached(
                volume_id=volume_id, instance_uuid=server_uuid, device=device_name, host=host
            ):
                BlockDeviceMapping.objects.filter(
                    server__uuid=server_uuid, volume_id=volume_id
                ).update(attached=True, **({"device_name": device_name} if device else {}))
        else:
            attachments.attach_failed(volume_id=volume_id, instance_uuid=server_uuid)
            BlockDeviceMapping.objects.filter(
                server__uuid=server_uuid, volume_id=volume_id, attached=False
            ).delete()
        _finish(server, request_id, "compute_attach_volume", ok, host, fault)
    logger.info(
        "server %s: volume %s %s on %s",
        server_uuid,
        volume_id,
        f"attached as {device}" if ok else f"failed to attach: {fault.get('message', '')}",
        host,
    )


def volume_detached(
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None,
    fault: dict[str, Any],
) -> None:
    """A host unplugged a volume (the mapping goes, the volume is available), or the guest
    kept it (still attached and in use; the action failed with the host's reason)."""
    server = Server.objects.filter(uuid=server_uuid).first()
    with transaction.atomic():
        if ok:
            attachments.detached(volume_id=volume_id, instance_uuid=server_uuid)
            BlockDeviceMapping.objects.filter(
                server__uuid=server_uuid, volume_id=volume_id
            ).delete()
        else:
            attachments.detach_failed(volume_id=volume_id, instance_uuid=server_uuid)
        _finish(server, request_id, "compute_detach_volume", ok, host, fault)
    logger.info(
        "server %s: volume %s %s on %s",
        server_uuid,
        volume_id,
        "detached" if ok else f"kept by the guest: {fault.get('message', '')}",
        host,
    )


def _finish(
    server: Server | None, request_id: str | None, event: str, ok: bool, host: str, fault: dict
) -> None:
    if server is not None and request_id:
        history.finish_event(
            server=server,
            request_id=request_id,
            event=event,
            ok=ok,
            host=host,
            details=(fault or {}).get("message", "") if not ok else "",
        )


# --- a build's volumes -------------------------------------------------------------------------


class VolumeBuildError(Exception):
    """The volumes a build must make cannot be made on its host (no pool there, over quota, a
    snapshot on another host's disk): the build fails with this message, not rescheduled."""


def pinned_host(server: Server) -> str | None:
    """The host an existing volume of the server ties it to: one in a pool that is not
    shared lives on that host's disk, so the server must be built (or moved) there."""
    volume_ids = list(server.block_devices.values_list("volume_id", flat=True))
    hosts = sorted(
        set(
            Volume.objects.filter(pk__in=volume_ids, pool__shared=False)
            .exclude(pool=None)
            .values_list("pool__host", flat=True)
        )
    )
    return hosts[0] if hosts else None


def prepare_build(server: Server, *, host: str, request_id: str) -> list[VolumeCreatePayload]:
    """Make the rows of the volumes the server's build creates on `host` (from an image, a
    snapshot, or blank), quota-checked, each attached-to-be as its mapping says; return
    what the host must create. A redelivered build finds them made and returns them again."""
    plan = [VolumeMapping.from_dict(d) for d in server.block_device_mapping or []]
    wanted = [e for e in plan if e.source_type != "volume"]
    if not wanted:
        return []
    made = {
        bdm.boot_index if bdm.boot_index is not None else -1 - n: bdm
        for n, bdm in enumerate(server.block_devices.exclude(source_type="volume"))
    }
    if made:
        return [_create_payload(bdm, request_id) for bdm in made.values()]
    pool = StoragePool.objects.filter(host=host).first()
    if pool is None:
        raise VolumeBuildError(f"Host {host} keeps no volumes: cannot create the server's volumes.")
    try:
        sizes = [_size(entry) for entry in wanted]
    except ObjectDoesNotExist as exc:
        raise VolumeBuildError("A snapshot to make a volume from is gone.") from exc
    project = quotas.lock_project(server.project_id)
    try:
        quotas.check_volume_quota(
            project=project,
            used=volume_services.count_volume_usage(server.project_id),
            volumes=len(wanted),
            gigabytes=sum(sizes),
        )
    except ComputecloudError as exc:
        raise VolumeBuildError(f"Volume quota: {exc}") from exc
    payloads = []
    for entry, size in zip(wanted, sizes, strict=True):
        try:
            volume = _make_volume(server, entry, size, pool)
        except ObjectDoesNotExist as exc:  # its image or snapshot deleted since the request
            raise VolumeBuildError(
                f"The {entry.source_type} {entry.uuid} to make a volume from is gone."
            ) from exc
        attachment = VolumeAttachment.objects.create(
            volume=volume,
            instance_uuid=server.uuid,
            status=AttachStatus.ATTACHING,
            host_name=host,
        )
        bdm = BlockDeviceMapping.objects.create(
            server=server,
            volume_id=volume.pk,
            attachment_id=attachment.pk,
            source_type=entry.source_type,
            boot_index=entry.boot_index,
            device_name="/dev/vda"
            if entry.boot_index == 0
            else server_volumes.next_device(server, entry.device_name),
            disk_bus=entry.disk_bus or "",
            delete_on_termination=entry.delete_on_termination,
            tag=entry.tag,
        )
        payloads.append(_create_payload(bdm, request_id))
        logger.info(
            "server %s: volume %s (%d GiB, from %s) to be made on %s",
            server.uuid,
            volume.pk,
            size,
            entry.source_type,
            host,
        )
    return payloads


def _size(entry: VolumeMapping) -> int:
    if entry.source_type == "snapshot":
        snapshot = VolumeSnapshot.objects.get(pk=entry.uuid)
        return max(entry.volume_size or 0, snapshot.size)
    return int(entry.volume_size or 1)


def _make_volume(server: Server, entry: VolumeMapping, size: int, pool: StoragePool) -> Volume:
    image_id = None
    image_metadata: dict[str, Any] = {}
    snapshot = None
    if entry.source_type == "image":
        image = Image.objects.get(pk=entry.uuid)
        image_id = image.pk
        image_metadata = volume_services.image_metadata(image)
    elif entry.source_type == "snapshot":
        snapshot = VolumeSnapshot.objects.select_related("volume__pool").get(pk=entry.uuid)
        source_pool = snapshot.volume.pool
        if source_pool is not None and source_pool != pool and not source_pool.shared:
            raise VolumeBuildError(
                f"Snapshot {snapshot.pk} is stored on host {source_pool.host}, not {pool.host}."
            )
        pool = source_pool or pool
    return Volume.objects.create(
        project_id=server.project_id,
        user_id=server.user_id,
        size=size,
        status=VolumeStatus.CREATING,
        volume_type=VolumeType.default(),
        availability_zone=server.availability_zone or "nova",
        bootable=entry.source_type == "image" or bool(snapshot and snapshot.volume.bootable),
        image_id=image_id,
        volume_image_metadata=image_metadata,
        snapshot=snapshot,
        pool=pool,
        name="",
        description=f"made for server {server.uuid}",
    )


def _create_payload(bdm: BlockDeviceMapping, request_id: str) -> VolumeCreatePayload:
    volume = Volume.objects.select_related("pool").get(pk=bdm.volume_id)
    return volume_services.create_payload(volume, request_id)


def block_devices(server: Server) -> list[BlockDevicePayload]:
    """The server's volumes as its host plugs them (every flow that defines the domain:
    build, rebuild, resize, revert)."""
    rows = list(server.block_devices.all())
    found = Volume.objects.select_related("pool").in_bulk([bdm.volume_id for bdm in rows])
    return [
        attachments.block_device(
            found[bdm.volume_id],
            device_name=bdm.device_name.removeprefix("/dev/") or None,
            boot_index=bdm.boot_index,
            disk_bus=bdm.disk_bus,
            tag=bdm.tag,
        )
        for bdm in rows
        if bdm.volume_id in found
    ]


def build_done(server_uuid: str, *, host: str) -> None:
    """The guest runs with its volumes: each one is in use, its mapping attached."""
    for bdm in BlockDeviceMapping.objects.filter(server__uuid=server_uuid, attached=False):
        if attachments.attached(
            volume_id=bdm.volume_id,
            instance_uuid=server_uuid,
            device=bdm.device_name,
            host=host,
        ):
            BlockDeviceMapping.objects.filter(pk=bdm.pk).update(attached=True)


# --- a host that restarts ----------------------------------------------------------------------


def resume_on_host(host: str) -> None:
    """A host (re)started: what it was asked to do to volumes and never reported is asked
    again, so that nothing stays creating, attaching or detaching. A worker killed mid-task
    leaves its message unacknowledged for the broker's visibility timeout; every operation is
    idempotent on the host, so a second request is safe. (Volumes a build makes go with the
    build's own recovery.)"""
    building = set(
        Server.objects.filter(host=host, vm_state=VmState.BUILDING).values_list("uuid", flat=True)
    )
    resent = 0
    for attachment in VolumeAttachment.objects.filter(
        host_name=host, status__in=[AttachStatus.ATTACHING, AttachStatus.DETACHING]
    ).select_related("volume__pool"):
        if attachment.instance_uuid in building:
            continue
        bdm = BlockDeviceMapping.objects.filter(
            server__uuid=attachment.instance_uuid, volume_id=attachment.volume_id
        ).first()
        if bdm is None:
            continue
        device = bdm.device_name.removeprefix("/dev/") or None
        if attachment.status == AttachStatus.ATTACHING:
            to_compute.attach_volume(
                enqueue_on_commit,
                host,
                payload={
                    "server_uuid": str(attachment.instance_uuid),
                    "attachment_id": str(attachment.pk),
                    "request_id": "req-reconcile",
                    "block_device": attachments.block_device(
                        attachment.volume, device_name=device, disk_bus=bdm.disk_bus
                    ),
                },
            )
        else:
            to_compute.detach_volume(
                enqueue_on_commit,
                host,
                payload={
                    "server_uuid": str(attachment.instance_uuid),
                    "volume_id": str(attachment.volume_id),
                    "attachment_id": str(attachment.pk),
                    "device_name": device,
                    "request_id": "req-reconcile",
                },
            )
        resent += 1
    for volume in Volume.objects.filter(pool__host=host).select_related("pool"):
        backend = volume.pool.backend if volume.pool else ""
        if volume.status == VolumeStatus.CREATING and not volume.attachments.exists():
            payload = volume_services.create_payload(volume, "req-reconcile")
            to_compute.create_volume(enqueue_on_commit, host, payload=payload)
        elif volume.status == VolumeStatus.DELETING:
            to_compute.delete_volume(
                enqueue_on_commit,
                host,
                payload={"volume_id": str(volume.pk), "backend": backend, "request_id": ""},
            )
        else:
            continue
        resent += 1
    if resent:
        logger.info("host %s restarted: %d volume operations asked again", host, resent)

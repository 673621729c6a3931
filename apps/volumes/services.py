"""The rules of the volume service (Cinder's API side): create, change, extend and delete
volumes and their snapshots, and the quota they count against. The pool a new volume goes to
is `apps.volumes.pools`'; what a host's report changes, `apps.volumes.reports`'.

Every status change is a compare-and-set (`apps.volumes.states`); every message to a host is
sent once the transaction commits (`enqueue_on_commit`), to the host of the volume's pool.
"""

import logging
import math
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.identity.context import RequestContext
from apps.images.exceptions import ImageNotFound
from apps.images.models import Image
from apps.images.services import find_visible_image, signed_download_url
from apps.quotas import services as quotas
from apps.volumes import pools
from apps.volumes.choices import (
    DELETABLE,
    AttachStatus,
    SnapshotStatus,
    VolumeStatus,
)
from apps.volumes.exceptions import (
    InvalidSnapshot,
    InvalidVolume,
    SnapshotNotFound,
    VolumeNotFound,
    VolumeTypeNotFound,
)
from apps.volumes.models import Volume, VolumeAttachment, VolumeSnapshot, VolumeType
from apps.volumes.states import snapshot_transition, transition
from computecloud.exceptions import InvalidInput, PolicyNotAuthorized
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit
from computecloud.wire import ImagePayload, VolumeCreatePayload

logger = logging.getLogger(__name__)

GIB = 1024**3
NO_BACKEND = "No valid backend was found"
# Cinder's bounds on names, descriptions and metadata.
MAX_TEXT = 255
# Snapshots may be deleted from these statuses.
SNAPSHOT_DELETABLE = (SnapshotStatus.AVAILABLE, SnapshotStatus.ERROR)
# A volume may be snapshotted from these (in-use only when the caller allows it).
SNAPSHOTTABLE = (VolumeStatus.AVAILABLE,)


class _Unset:
    """A keyword not given (None is a value: a name cleared)."""


UNSET: Any = _Unset()


# --- reads -----------------------------------------------------------------------------------


def visible_volumes(context: RequestContext) -> QuerySet[Volume]:
    """The volumes `context` may see: its project's (an admin: every project's)."""
    query = Volume.objects.select_related("volume_type", "pool")
    if not context.is_admin:
        query = query.filter(project_id=context.project_id)
    return query


def visible_snapshots(context: RequestContext) -> QuerySet[VolumeSnapshot]:
    """The snapshots `context` may see: its project's (an admin: every project's)."""
    query = VolumeSnapshot.objects.select_related("volume")
    if not context.is_admin:
        query = query.filter(project_id=context.project_id)
    return query


def _by_id(query: QuerySet[Any], key: Any) -> Any:
    try:
        return query.get(pk=uuid.UUID(str(key)))
    except (ValueError, ValidationError, query.model.DoesNotExist):
        return None


def find_volume(*, context: RequestContext, volume_id: Any) -> Volume:
    """A volume `context` may see; any other id (another project's, a malformed one) is the
    same `VolumeNotFound`."""
    volume = _by_id(visible_volumes(context), volume_id)
    if volume is None:
        raise VolumeNotFound(volume_id=volume_id)
    return volume


def find_snapshot(*, context: RequestContext, snapshot_id: Any) -> VolumeSnapshot:
    snapshot = _by_id(visible_snapshots(context), snapshot_id)
    if snapshot is None:
        raise SnapshotNotFound(snapshot_id=snapshot_id)
    return snapshot


def visible_types(
    context: RequestContext, *, is_public: bool | None = True
) -> QuerySet[VolumeType]:
    """Volume types: public ones for everyone; an admin may list private ones too
    (`is_public` False: only those, None: all). The default type is always among them."""
    VolumeType.default()
    query = VolumeType.objects.all()
    if not context.is_admin:
        return query.filter(is_public=True)
    return query if is_public is None else query.filter(is_public=is_public)


def find_volume_type(*, context: RequestContext, key: Any) -> VolumeType:
    """A type by id or by name (``default``: the default type)."""
    if not isinstance(key, str):
        raise InvalidInput("Invalid input received: volume_type must be a name or an id.")
    if key == "default":
        return VolumeType.default()
    query = visible_types(context, is_public=None)
    found = _by_id(query, key) or query.filter(name=str(key)).first()
    if found is None:
        raise VolumeTypeNotFound(type_id=key)
    return found


def count_volume_usage(project_id: str) -> dict[str, int]:
    """What a project uses, by Cinder's quota names: its volumes, its snapshots, and the
    gigabytes of both (an extend under way counts at its new size)."""
    volumes = Volume.objects.filter(project_id=project_id).aggregate(
        n=Count("id"), gb=Coalesce(Sum(Greatest("size", Coalesce("extending_to", 0))), 0)
    )
    snapshots = VolumeSnapshot.objects.filter(project_id=project_id).aggregate(
        n=Count("id"), gb=Coalesce(Sum("size"), 0)
    )
    return {
        "volumes": volumes["n"],
        "snapshots": snapshots["n"],
        "gigabytes": volumes["gb"] + snapshots["gb"],
    }


# --- validation ------------------------------------------------------------------------------


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InvalidInput(f"Invalid input received: {field} must be a string of at most 255.")
    return value


def validate_metadata(metadata: Any) -> dict[str, str]:
    """Cinder's metadata: string keys of 1 to 255 characters, string values up to 255."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput("Invalid input received: metadata must be a dictionary.")
    for key, value in metadata.items():
        if not key or len(key) > MAX_TEXT:
            raise InvalidInput("Invalid input received: metadata keys are 1 to 255 characters.")
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise InvalidInput(
                f"Invalid input received: metadata value of {key} must be a string of at "
                "most 255 characters."
            )
    return dict(metadata)


def _size(value: Any) -> int | None:
    """A positive integer size in GiB (an int or a digit string); None when not given."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = "bad"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 1 or value > quotas.MAX_LIMIT:
        raise InvalidInput(
            f"Invalid input received: Volume size '{value}' must be an integer and greater than 0."
        )
    return value


# --- create ----------------------------------------------------------------------------------


def image_metadata(image: Image) -> dict[str, str]:
    """What a volume keeps of the image it was made from (Cinder's volume_image_metadata)."""
    meta = {key: str(value) for key, value in image.properties.items()}
    meta.update(
        {
            "image_id": str(image.pk),
            "image_name": image.name or "",
            "disk_format": image.disk_format or "",
            "container_format": image.container_format or "",
            "min_ram": str(image.min_ram),
            "min_disk": str(image.min_disk),
            "size": str(image.size or 0),
            "checksum": image.checksum or "",
        }
    )
    return meta


def _image_payload(image: Image) -> ImagePayload:
    """Where the host downloads the image (a signed URL: the host has no token), as for a
    build."""
    return {
        "image_id": str(image.pk),
        "url": signed_download_url(image_id=image.pk),
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "size": image.size,
        "disk_format": image.disk_format or "raw",
        "container_format": image.container_format or "bare",
    }


def create_payload(volume: Volume, request_id: str) -> VolumeCreatePayload:
    """What the host of `volume`'s pool needs to make it: its size and its source (an image
    to download, a snapshot or a volume of the same pool), from the volume's row."""
    image = Image.objects.filter(pk=volume.image_id).first() if volume.image_id else None
    return {
        "volume_id": str(volume.pk),
        "size_gb": volume.size,
        "backend": volume.pool.backend if volume.pool else "",
        "request_id": request_id,
        "image": _image_payload(image) if image else None,
        "snapshot_id": str(volume.snapshot_id) if volume.snapshot_id else None,
        "source_volume_id": str(volume.source_volid) if volume.source_volid else None,
    }


def _source_image(context: RequestContext, image_ref: Any) -> Image:
    try:
        image = find_visible_image(context=context, image_id=str(image_ref))
    except ImageNotFound:
        raise InvalidInput(
            "Invalid input received: Invalid image identifier or unable to access requested image."
        ) from None
    if not image.is_active:
        raise InvalidInput(f"Invalid input received: image {image.pk} is not active.")
    return image


def _min_size_of_image(image: Image) -> int:
    data = image.virtual_size or image.size or 0
    return max(image.min_disk, math.ceil(data / GIB), 1)


def create_volume(
    *,
    context: RequestContext,
    size: Any = None,
    name: str | None = None,
    description: str | None = None,
    metadata: Any = None,
    volume_type: Any = None,
    availability_zone: str | None = None,
    image_ref: Any = None,
    snapshot_id: Any = None,
    source_volid: Any = None,
) -> Volume:
    """Create a volume (blank, from an image, a snapshot or another volume) in status
    ``creating`` and ask its pool's host to make it. Counted against the project's quota
    under the project lock, in the transaction that inserts it. Without a pool to put it in,
    the volume is created in ``error`` ("No valid backend was found"), as Cinder does."""
    requested = _size(size)
    name, description = _text(name, "name"), _text(description, "description")
    availability_zone = _text(availability_zone, "availability_zone")
    metadata = validate_metadata(metadata)
    kind = find_volume_type(context=context, key=volume_type) if volume_type else None
    if sum(x is not None for x in (image_ref, snapshot_id, source_volid)) > 1:
        raise InvalidInput(
            "Invalid input received: give one of imageRef, snapshot_id, source_volid."
        )
    image = _source_image(context, image_ref) if image_ref is not None else None
    snapshot = source = None
    minimum = 1
    if snapshot_id is not None:
        try:
            snapshot = find_snapshot(context=context, snapshot_id=snapshot_id)
        except SnapshotNotFound:
            raise InvalidInput(
                f"Invalid input received: snapshot {snapshot_id} not found."
            ) from None
        if snapshot.status != SnapshotStatus.AVAILABLE:
            raise InvalidSnapshot(
                reason="Originating snapshot status must be one of 'available' values"
            )
        minimum = snapshot.size
        kind = kind or snapshot.volume.volume_type
    if source_volid is not None:
        try:
            source = find_volume(context=context, volume_id=source_volid)
        except VolumeNotFound:
            raise InvalidInput(
                f"Invalid input received: volume {source_volid} not found."
            ) from None
        if source.status not in (VolumeStatus.AVAILABLE, VolumeStatus.IN_USE):
            raise InvalidVolume(reason="source volume status must be available or in-use")
        minimum = source.size
        kind = kind or source.volume_type
    if image is not None:
        minimum = _min_size_of_image(image)
    if requested is None:
        if snapshot is None and source is None:
            raise InvalidInput("Invalid input received: size is required.")
        requested = minimum
    if requested < minimum:
        raise InvalidInput(
            f"Invalid input received: volume size {requested}G is smaller than its source "
            f"({minimum}G)."
        )
    with transaction.atomic():
        project = quotas.lock_project(context.project_id)
        used = count_volume_usage(project.pk)
        quotas.check_volume_quota(project=project, used=used, volumes=1, gigabytes=requested)
        origin = snapshot.volume if snapshot is not None else source
        pool = origin.pool if origin is not None else pools.choose_pool(requested)
        volume = Volume.objects.create(
            project=project,
            user_id=context.user_id,
            name=name,
            description=description,
            size=requested,
            status=VolumeStatus.CREATING if pool else VolumeStatus.ERROR,
            error_reason="" if pool else NO_BACKEND,
            volume_type=kind or VolumeType.default(),
            availability_zone=availability_zone or "nova",
            bootable=image is not None or bool(origin and origin.bootable),
            metadata=metadata,
            image_id=image.pk if image else None,
            volume_image_metadata=(
                image_metadata(image)
                if image
                else dict(origin.volume_image_metadata if origin else {})
            ),
            snapshot=snapshot,
            source_volid=source.pk if source else None,
            pool=pool,
        )
        if pool is not None:
            to_compute.create_volume(
                enqueue_on_commit, pool.host, payload=create_payload(volume, context.request_id)
            )
    if pool is None:
        logger.warning("volume %s: %s, created in error", volume.pk, NO_BACKEND)
    else:
        logger.info("volume %s: creating %dG on %s", volume.pk, requested, pool.name)
    return volume


# --- change ----------------------------------------------------------------------------------


def update_volume(
    *, volume: Volume, name: Any = UNSET, description: Any = UNSET, metadata: Any = UNSET
) -> Volume:
    """Rename, describe, or replace the metadata of a volume (any status)."""
    changes: dict[str, Any] = {}
    if name is not UNSET:
        changes["name"] = _text(name, "name")
    if description is not UNSET:
        changes["description"] = _text(description, "description")
    if metadata is not UNSET:
        changes["metadata"] = validate_metadata(metadata)
    if changes:
        changes["updated_at"] = timezone.now()
        Volume.objects.filter(pk=volume.pk).update(**changes)
        for field, value in changes.items():
            setattr(volume, field, value)
        logger.info("volume %s: updated %s", volume.pk, ", ".join(sorted(changes)))
    return volume


def set_volume_metadata(*, volume: Volume, metadata: Any, replace: bool = False) -> dict[str, str]:
    """Merge `metadata` into the volume's (or replace it); returns all of it."""
    new = validate_metadata(metadata)
    with transaction.atomic():
        locked = Volume.objects.select_for_update().get(pk=volume.pk)
        merged = new if replace else {**locked.metadata, **new}
        Volume.objects.filter(pk=volume.pk).update(metadata=merged, updated_at=timezone.now())
    volume.metadata = merged
    logger.info("volume %s: metadata set (%s)", volume.pk, ", ".join(sorted(new)))
    return merged


def delete_volume_metadata(*, volume: Volume, key: str) -> None:
    """Remove one metadata key (404 when the volume has none of that name)."""
    with transaction.atomic():
        locked = Volume.objects.select_for_update().get(pk=volume.pk)
        if key not in locked.metadata:
            raise VolumeNotFound(message=f"Metadata item was not found: {key}")
        remaining = {k: v for k, v in locked.metadata.items() if k != key}
        Volume.objects.filter(pk=volume.pk).update(metadata=remaining, updated_at=timezone.now())
    volume.metadata = remaining
    logger.info("volume %s: metadata %s removed", volume.pk, key)


def set_bootable(*, volume: Volume, bootable: bool) -> None:
    Volume.objects.filter(pk=volume.pk).update(bootable=bootable, updated_at=timezone.now())
    volume.bootable = bootable
    logger.info("volume %s: bootable %s", volume.pk, bootable)


def reset_status(*, volume: Volume, status: str) -> None:
    """An admin sets a stuck volume's status (Cinder's os-reset_status)."""
    if status not in VolumeStatus.values:
        raise InvalidInput(f"Invalid input received: unknown status {status}.")
    transition(volume, expected=VolumeStatus.values, status=status)
    logger.warning("volume %s: status reset to %s", volume.pk, status)


def _attachment(volume: Volume) -> VolumeAttachment | None:
    return volume.attachments.filter(status=AttachStatus.ATTACHED).first()


def extend_volume(
    *, volume: Volume, new_size: Any, allow_in_use: bool, request_id: str = ""
) -> None:
    """Grow a volume to `new_size` GiB (``extending`` until its host is done). Only an
    available volume, or an in-use one when `allow_in_use` (microversion 3.42); the new size
    must be larger and fit the project's quota."""
    size = _size(new_size)
    if size is None:
        raise InvalidInput("Invalid input received: new_size is required.")
    allowed = [VolumeStatus.AVAILABLE] + ([VolumeStatus.IN_USE] if allow_in_use else [])
    if volume.status not in allowed:
        raise InvalidVolume(
            reason=f"Volume status must be {' or '.join(allowed)} to extend, currently "
            f"{volume.status}."
        )
    if size <= volume.size:
        raise InvalidInput(
            f"Invalid input received: New size for extend must be greater than current size. "
            f"(current: {volume.size}, extended: {size})."
        )
    with transaction.atomic():
        project = quotas.lock_project(volume.project_id)
        used = count_volume_usage(project.pk)
        quotas.check_volume_quota(
            project=project, used=used, gigabytes=size - volume.size, volume_size=size
        )
        if volume.pool is None or not transition(
            volume, expected=allowed, status=VolumeStatus.EXTENDING, extending_to=size
        ):
            raise InvalidVolume(reason="the volume's status changed meanwhile.")
        attachment = _attachment(volume)
        to_compute.extend_volume(
            enqueue_on_commit,
            volume.pool.host,
            payload={
                "volume_id": str(volume.pk),
                "backend": volume.pool.backend,
                "size_gb": size,
                "request_id": request_id,
                "server_uuid": str(attachment.instance_uuid) if attachment else None,
                "device_name": attachment.device if attachment else None,
            },
        )
    logger.info("volume %s: extending from %dG to %dG", volume.pk, volume.size, size)


def delete_volume(
    *, context: RequestContext, volume: Volume, cascade: bool = False, force: bool = False
) -> None:
    """Delete a volume: ``deleting`` until its host has removed it (at once when it was never
    made on a host). Refused (400) when attached, when its status is not one Cinder deletes
    from (`force`, an admin's, allows any unattached status), or when it has snapshots and
    not `cascade` (which deletes them first)."""
    if force and not context.is_admin:
        raise PolicyNotAuthorized(action="volume_extension:volume_admin_actions:force_delete")
    if volume.attachments.exists():
        raise InvalidVolume(
            reason="Volume status must be available or error or error_restoring "
            "or error_extending or error_managing and must not be migrating, "
            "attached, belong to a group, have snapshots, awaiting a transfer, "
            "or be disassociated from snapshots after volume transfer."
        )
    expected = list(VolumeStatus.values if force else DELETABLE)
    if volume.status not in expected:
        raise InvalidVolume(
            reason=f"Volume status must be available or error or error_extending, but current "
            f"status is: {volume.status}."
        )
    with transaction.atomic():
        snapshots = list(volume.snapshots.select_for_update())
        if snapshots and not cascade:
            raise InvalidVolume(reason="Volume still has dependent snapshots.")
        if any(s.status not in SNAPSHOT_DELETABLE for s in snapshots):
            raise InvalidVolume(reason="a snapshot of the volume is not available or error.")
        if not transition(volume, expected=expected, status=VolumeStatus.DELETING):
            raise InvalidVolume(reason="the volume's status changed meanwhile.")
        for snapshot in snapshots:
            _begin_snapshot_delete(snapshot, volume, context.request_id)
        if volume.pool is None:  # never made on a host: nothing to remove there
            VolumeSnapshot.objects.filter(volume=volume).delete()
            Volume.objects.filter(pk=volume.pk).delete()
            logger.info("volume %s: deleted (it was on no host)", volume.pk)
            return
        to_compute.delete_volume(
            enqueue_on_commit,
            volume.pool.host,
            payload={
                "volume_id": str(volume.pk),
                "backend": volume.pool.backend,
                "request_id": context.request_id,
            },
        )
    logger.info("volume %s: deleting%s", volume.pk, " with its snapshots" if snapshots else "")


# --- snapshots -------------------------------------------------------------------------------


def create_snapshot(
    *,
    context: RequestContext,
    volume: Volume,
    name: str | None = None,
    description: str | None = None,
    metadata: Any = None,
    force: bool = False,
    allow_in_use: bool = False,
) -> VolumeSnapshot:
    """Snapshot a volume (``creating`` until its host is done). An in-use volume needs
    `force`, or `allow_in_use` (microversion 3.66, where the API refuses ``force: false``)."""
    name, description = _text(name, "name"), _text(description, "description")
    metadata = validate_metadata(metadata)
    allowed = list(SNAPSHOTTABLE)
    if force or allow_in_use:
        allowed.append(VolumeStatus.IN_USE)
    if volume.status not in allowed or volume.pool is None:
        raise InvalidVolume(
            reason=f"Volume {volume.pk} status must be available, but current status is: "
            f"{volume.status}."
        )
    with transaction.atomic():
        project = quotas.lock_project(volume.project_id)
        used = count_volume_usage(project.pk)
        quotas.check_volume_quota(project=project, used=used, snapshots=1, gigabytes=volume.size)
        snapshot = VolumeSnapshot.objects.create(
            project=project,
            user_id=context.user_id,
            volume=volume,
            name=name,
            description=description,
            size=volume.size,
            metadata=metadata,
        )
        to_compute.create_volume_snapshot(
            enqueue_on_commit,
            volume.pool.host,
            payload={
                "snapshot_id": str(snapshot.pk),
                "volume_id": str(volume.pk),
                "backend": volume.pool.backend,
                "request_id": context.request_id,
            },
        )
    logger.info("volume %s: snapshot %s creating", volume.pk, snapshot.pk)
    return snapshot


def update_snapshot(
    *, snapshot: VolumeSnapshot, name: Any = UNSET, description: Any = UNSET
) -> VolumeSnapshot:
    changes: dict[str, Any] = {}
    if name is not UNSET:
        changes["name"] = _text(name, "name")
    if description is not UNSET:
        changes["description"] = _text(description, "description")
    if changes:
        changes["updated_at"] = timezone.now()
        VolumeSnapshot.objects.filter(pk=snapshot.pk).update(**changes)
        for field, value in changes.items():
            setattr(snapshot, field, value)
        logger.info("volume %s: snapshot %s updated", snapshot.volume_id, snapshot.pk)
    return snapshot


def _begin_snapshot_delete(snapshot: VolumeSnapshot, volume: Volume, request_id: str = "") -> None:
    if not snapshot_transition(
        snapshot, expected=SNAPSHOT_DELETABLE, status=SnapshotStatus.DELETING
    ):
        raise InvalidSnapshot(reason="Snapshot status must be available or error.")
    if volume.pool is not None:
        to_compute.delete_volume_snapshot(
            enqueue_on_commit,
            volume.pool.host,
            payload={
                "snapshot_id": str(snapshot.pk),
                "volume_id": str(volume.pk),
                "backend": volume.pool.backend,
                "request_id": request_id,
            },
        )
    logger.info("volume %s: snapshot %s deleting", volume.pk, snapshot.pk)


def delete_snapshot(*, snapshot: VolumeSnapshot, request_id: str = "") -> None:
    """Delete a snapshot (``deleting`` until its host has removed it)."""
    if snapshot.status not in SNAPSHOT_DELETABLE:
        raise InvalidSnapshot(
            reason=f"Snapshot status must be available or error, but current status is: "
            f"{snapshot.status}."
        )
    with transaction.atomic():
        _begin_snapshot_delete(snapshot, snapshot.volume, request_id)

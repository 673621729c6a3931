"""What the compute side asks of the volume service: take a volume for a server, record that
the host plugged or unplugged it, give it back when the server goes.

Volumes know no servers: an attachment names its instance by uuid. Each step is one
compare-and-set on the volume's status (`apps.volumes.states`), so a second attach of the same
volume, a delete racing an attach, or a host's late report finds the status moved on and
changes nothing. Nothing here leaves a volume in ``attaching`` or ``detaching``: every step
that starts one has a step that ends it either way.
"""

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.volumes.choices import AttachStatus, VolumeStatus
from apps.volumes.exceptions import VolumeNotAvailable, VolumeNotFound, VolumeOnOtherHost
from apps.volumes.models import Volume, VolumeAttachment
from apps.volumes.states import transition
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit
from computecloud.wire import BlockDevicePayload

logger = logging.getLogger(__name__)


def find_volume(*, project_id: str | None, is_admin: bool, volume_id: Any) -> Volume:
    """The volume a project may use (an admin: any); any other id, another project's
    included, is the same `VolumeNotFound`."""
    query = Volume.objects.select_related("pool")
    if not is_admin:
        query = query.filter(project_id=project_id)
    try:
        return query.get(pk=volume_id)
    except (Volume.DoesNotExist, ValidationError, ValueError, TypeError):
        raise VolumeNotFound(volume_id=volume_id) from None


def can_attach_on(volume: Volume, host: str | None) -> bool:
    """Whether a guest on `host` can have `volume`: a shared pool's volumes attach anywhere,
    a host's own disk only there."""
    pool = volume.pool
    return pool is not None and (pool.shared or host is None or pool.host == host)


def reserve(volume: Volume, *, instance_uuid: str, host: str | None) -> VolumeAttachment:
    """Take `volume` for instance `instance_uuid` (status ``attaching``). Raises
    `VolumeNotAvailable` (400) unless it is available (or a multiattach volume in use by
    others), `VolumeOnOtherHost` (400) when its pool cannot reach `host`.

    Call inside the transaction that records the server's side of it."""
    if not can_attach_on(volume, host):
        raise VolumeOnOtherHost(volume_id=volume.pk, pool=volume.pool.host if volume.pool else "")
    taken = VolumeAttachment.objects.filter(volume=volume)
    if taken.filter(instance_uuid=instance_uuid).exists():
        raise VolumeNotAvailable(volume_id=volume.pk, status="attached to this server already")
    if not volume.multiattach and taken.exists():
        raise VolumeNotAvailable(volume_id=volume.pk, status="in-use")
    expected = [VolumeStatus.AVAILABLE]
    if volume.multiattach:
        expected.append(VolumeStatus.IN_USE)
    if not transition(volume, expected=expected, status=VolumeStatus.ATTACHING):
        volume.refresh_from_db(fields=["status"])
        raise VolumeNotAvailable(volume_id=volume.pk, status=volume.status)
    attachment = VolumeAttachment.objects.create(
        volume=volume,
        instance_uuid=instance_uuid,
        status=AttachStatus.ATTACHING,
        host_name=host or "",
    )
    logger.info("volume %s: attaching to instance %s", volume.pk, instance_uuid)
    return attachment


def block_device(
    volume: Volume,
    *,
    device_name: str | None,
    boot_index: int | None = None,
    disk_bus: str = "",
    tag: str | None = None,
) -> BlockDevicePayload:
    """How a host finds `volume` (its pool's backend and the id) and plugs it."""
    payload: BlockDevicePayload = {
        "volume_id": str(volume.pk),
        "backend": volume.pool.backend if volume.pool else "",
        "device_name": device_name,
        "boot_index": boot_index,
    }
    if disk_bus:
        payload["disk_bus"] = disk_bus
    if tag:
        payload["tag"] = tag
    return payload


def _settle(volume_id: Any) -> None:
    """After an attachment ends: ``in-use`` while others remain (multiattach), else
    ``available``."""
    others = VolumeAttachment.objects.filter(volume_id=volume_id).exists()
    transition(
        volume_id,
        expected=[VolumeStatus.ATTACHING, VolumeStatus.DETACHING, VolumeStatus.IN_USE],
        status=VolumeStatus.IN_USE if others else VolumeStatus.AVAILABLE,
    )


def attached(*, volume_id: Any, instance_uuid: str, device: str, host: str) -> bool:
    """The host plugged the volume in: ``in-use``, listed with its device. False when the
    attachment is gone (the server was deleted meanwhile)."""
    with transaction.atomic():
        updated = VolumeAttachment.objects.filter(
            volume_id=volume_id, instance_uuid=instance_uuid, status=AttachStatus.ATTACHING
        ).update(
            status=AttachStatus.ATTACHED, device=device, host_name=host, attached_at=timezone.now()
        )
        if updated:
            # A volume a build made may still read creating or available: the attachment,
            # taken for this instance alone, is what says it is this server's.
            transition(
                volume_id,
                expected=[
                    VolumeStatus.ATTACHING,
                    VolumeStatus.IN_USE,
                    VolumeStatus.CREATING,
                    VolumeStatus.AVAILABLE,
                ],
                status=VolumeStatus.IN_USE,
            )
    if updated:
        logger.info("volume %s: in use by instance %s on %s", volume_id, instance_uuid, device)
    return bool(updated)


def attach_failed(*, volume_id: Any, instance_uuid: str) -> None:
    """The host could not plug it: the volume is given back as it was."""
    with transaction.atomic():
        VolumeAttachment.objects.filter(
            volume_id=volume_id, instance_uuid=instance_uuid, status=AttachStatus.ATTACHING
        ).delete()
        _settle(volume_id)
    logger.warning("volume %s: attach to instance %s failed, given back", volume_id, instance_uuid)


def begin_detach(*, volume_id: Any, instance_uuid: str) -> None:
    """The server lets the volume go: ``detaching`` until the host reports. Raises
    `VolumeNotAvailable` when it is not attached (an attach or a detach is under way)."""
    updated = VolumeAttachment.objects.filter(
        volume_id=volume_id, instance_uuid=instance_uuid, status=AttachStatus.ATTACHED
    ).update(status=AttachStatus.DETACHING)
    if not updated or not transition(
        volume_id, expected=[VolumeStatus.IN_USE], status=VolumeStatus.DETACHING
    ):
        status = Volume.objects.filter(pk=volume_id).values_list("status", flat=True).first()
        raise VolumeNotAvailable(volume_id=volume_id, status=status or "gone")
    logger.info("volume %s: detaching from instance %s", volume_id, instance_uuid)


def detached(*, volume_id: Any, instance_uuid: str) -> None:
    """The guest let go: the attachment ends."""
    with transaction.atomic():
        VolumeAttachment.objects.filter(volume_id=volume_id, instance_uuid=instance_uuid).delete()
        _settle(volume_id)
    logger.info("volume %s: detached from instance %s", volume_id, instance_uuid)


def detach_failed(*, volume_id: Any, instance_uuid: str) -> None:
    """The guest kept the disk: still attached, ``in-use`` again."""
    with transaction.atomic():
        VolumeAttachment.objects.filter(
            volume_id=volume_id, instance_uuid=instance_uuid, status=AttachStatus.DETACHING
        ).update(status=AttachStatus.ATTACHED)
        transition(volume_id, expected=[VolumeStatus.DETACHING], status=VolumeStatus.IN_USE)
    logger.warning("volume %s: instance %s kept it, still attached", volume_id, instance_uuid)


def release(*, volume_id: Any, instance_uuid: str, delete: bool) -> None:
    """The instance is gone (its domain destroyed): the attachment ends, and the volume is
    deleted too when the server's mapping said so (delete_on_termination)."""
    with transaction.atomic():
        VolumeAttachment.objects.filter(volume_id=volume_id, instance_uuid=instance_uuid).delete()
        _settle(volume_id)
        if delete:
            begin_delete(volume_id)
    logger.info(
        "volume %s: released by deleted instance %s%s",
        volume_id,
        instance_uuid,
        ", deleting it (delete_on_termination)" if delete else "",
    )


def begin_delete(volume_id: Any) -> bool:
    """Delete an unattached volume: ``deleting``, then its host removes the data and
    reports. False when it is attached elsewhere or not in a deletable state."""
    volume = Volume.objects.select_related("pool").filter(pk=volume_id).first()
    if volume is None or VolumeAttachment.objects.filter(volume=volume).exists():
        return False
    expected = [VolumeStatus.AVAILABLE, VolumeStatus.ERROR, VolumeStatus.ERROR_EXTENDING]
    if not transition(volume, expected=expected, status=VolumeStatus.DELETING):
        return False
    if volume.pool is None:  # never made on any host: nothing to remove there
        volume.delete()
        return True
    to_compute.delete_volume(
        enqueue_on_commit,
        volume.pool.host,
        payload={"volume_id": str(volume.pk), "backend": volume.pool.backend, "request_id": ""},
    )
    return True

"""What a host's report of a storage operation (`from_compute.VOLUME_DONE`) changes: the
volume's or snapshot's status, settled by compare-and-set, so a late or repeated report finds
the status moved on and changes nothing."""

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from apps.volumes.choices import SnapshotStatus, VolumeStatus
from apps.volumes.models import Volume, VolumeAttachment, VolumeSnapshot
from apps.volumes.states import snapshot_transition, transition

logger = logging.getLogger(__name__)


def _reason(fault: Mapping[str, Any]) -> str:
    return str(fault.get("message") or "the host reported a failure")


def _settled_status(volume_id: Any) -> str:
    attached = VolumeAttachment.objects.filter(volume_id=volume_id).exists()
    return VolumeStatus.IN_USE if attached else VolumeStatus.AVAILABLE


def operation_done(
    *,
    host: str,
    operation: str,
    volume_id: str,
    snapshot_id: str | None,
    request_id: str | None,
    ok: bool,
    fault: dict[str, Any],
) -> None:
    """A host finished (or failed) a storage operation: settle the volume's or snapshot's
    status. A report that finds the status moved on (the volume deleted meanwhile) changes
    nothing."""
    handler = _DONE.get(operation)
    if handler is None:
        logger.error("volume %s: %s reported unknown operation %r", volume_id, host, operation)
        return
    with transaction.atomic():
        handler(volume_id, snapshot_id, ok, fault)
    logger.log(
        logging.INFO if ok else logging.WARNING,
        "volume %s: %s %s on %s%s (request %s)",
        volume_id,
        operation,
        "done" if ok else "failed",
        host,
        "" if ok else f": {_reason(fault)}",
        request_id or "-",
    )


def _created(volume_id: str, snapshot_id: str | None, ok: bool, fault: dict[str, Any]) -> None:
    creating = [VolumeStatus.CREATING, VolumeStatus.DOWNLOADING]
    if ok:
        transition(volume_id, expected=creating, status=VolumeStatus.AVAILABLE)
    else:
        transition(
            volume_id, expected=creating, status=VolumeStatus.ERROR, error_reason=_reason(fault)
        )


def _deleted(volume_id: str, snapshot_id: str | None, ok: bool, fault: dict[str, Any]) -> None:
    if ok:
        volume = (
            Volume.objects.select_for_update()
            .filter(pk=volume_id, status=VolumeStatus.DELETING)
            .first()
        )
        if volume is not None:
            VolumeSnapshot.objects.filter(volume=volume).delete()
            volume.delete()
    else:
        transition(
            volume_id,
            expected=[VolumeStatus.DELETING],
            status=VolumeStatus.ERROR_DELETING,
            error_reason=_reason(fault),
        )


def _extended(volume_id: str, snapshot_id: str | None, ok: bool, fault: dict[str, Any]) -> None:
    volume = Volume.objects.filter(pk=volume_id, status=VolumeStatus.EXTENDING).first()
    if volume is None:
        return
    if ok:
        transition(
            volume,
            expected=[VolumeStatus.EXTENDING],
            status=_settled_status(volume_id),
            size=volume.extending_to or volume.size,
            extending_to=None,
        )
    else:
        transition(
            volume,
            expected=[VolumeStatus.EXTENDING],
            status=VolumeStatus.ERROR_EXTENDING,
            extending_to=None,
            error_reason=_reason(fault),
        )


def _snapshotted(volume_id: str, snapshot_id: str | None, ok: bool, fault: dict[str, Any]) -> None:
    if ok:
        snapshot_transition(
            snapshot_id, expected=[SnapshotStatus.CREATING], status=SnapshotStatus.AVAILABLE
        )
    else:
        snapshot_transition(
            snapshot_id,
            expected=[SnapshotStatus.CREATING],
            status=SnapshotStatus.ERROR,
            error_reason=_reason(fault),
        )


def _snapshot_deleted(
    volume_id: str, snapshot_id: str | None, ok: bool, fault: dict[str, Any]
) -> None:
    if ok:
        VolumeSnapshot.objects.filter(pk=snapshot_id, status=SnapshotStatus.DELETING).delete()
    else:
        snapshot_transition(
            snapshot_id,
            expected=[SnapshotStatus.DELETING],
            status=SnapshotStatus.ERROR_DELETING,
            error_reason=_reason(fault),
        )


_DONE = {
    "create": _created,
    "delete": _deleted,
    "extend": _extended,
    "snapshot": _snapshotted,
    "delete_snapshot": _snapshot_deleted,
}

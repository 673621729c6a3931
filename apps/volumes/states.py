"""The one way a volume's or a snapshot's status changes: a conditional UPDATE (compare and
set) whose WHERE clause holds the statuses the caller expects, so that two concurrent requests
give one winner and a late host report never undoes a newer change."""

import logging
from collections.abc import Iterable
from typing import Any

from django.db.models import Model
from django.utils import timezone

from apps.volumes.models import Volume, VolumeSnapshot

logger = logging.getLogger(__name__)


def _apply(
    model: type[Model], obj: Any, expected: Iterable[str], status: str, changes: dict
) -> bool:
    is_row = hasattr(obj, "pk")
    pk = obj.pk if is_row else obj
    changes = {"status": status, "updated_at": timezone.now(), **changes}
    applied = model._default_manager.filter(pk=pk, status__in=list(expected)).update(**changes) == 1
    if applied and is_row:
        for field, value in changes.items():
            setattr(obj, field, value)
    if not applied:
        logger.info(
            "%s %s: not in %s, left as it is (wanted %s)",
            model.__name__,
            pk,
            list(expected),
            status,
        )
    return applied


def transition(
    volume: Volume | Any, *, expected: Iterable[str], status: str, **changes: Any
) -> bool:
    """Set `volume` (a Volume, updated in memory too, or its id) to `status` with `changes`,
    only if its status is one of `expected`. Returns whether it applied."""
    return _apply(Volume, volume, expected, status, changes)


def snapshot_transition(
    snapshot: VolumeSnapshot | Any, *, expected: Iterable[str], status: str, **changes: Any
) -> bool:
    """As `transition`, for a snapshot."""
    return _apply(VolumeSnapshot, snapshot, expected, status, changes)

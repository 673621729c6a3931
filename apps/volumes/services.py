"""The rules of the volume service (Cinder's API side)."""

import logging
from typing import Any

from apps.volumes.models import StoragePool
from computecloud.wire import StoragePoolPayload

logger = logging.getLogger(__name__)


def report_pool(*, host: str, storage: StoragePoolPayload | None) -> None:
    """Record the volume pool a host reported. None (a host that keeps no volumes) changes
    nothing: a pool still holding volumes is never forgotten, so they stay findable."""
    if storage is None:
        return
    _, created = StoragePool.objects.update_or_create(
        host=host,
        backend=storage["backend"],
        defaults={
            "shared": bool(storage["shared"]),
            "total_gb": max(0, int(storage["total_gb"])),
            "free_gb": max(0, int(storage["free_gb"])),
        },
    )
    if created:
        logger.info("storage pool %s@%s recorded", host, storage["backend"])


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
    status."""
    raise NotImplementedError

"""The conductor's side of volumes: what hosts report about their pools and about the
storage operations and attachments they carried out.

Storage results are the volume service's to record (`apps.volumes.services`); attachments
change a server too (its block device mappings, its action history), so they are settled
here with both apps' services."""

import logging
from typing import Any

from apps.volumes import services as volume_services
from computecloud.wire import StoragePoolPayload

logger = logging.getLogger(__name__)


def record_pool(*, host: str, storage: StoragePoolPayload | None) -> None:
    """A host's heartbeat or start-up carried its volume pool (None: it keeps none)."""
    volume_services.report_pool(host=host, storage=storage)


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
    volume_services.operation_done(
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
    raise NotImplementedError  # the compute side's attach results: next commit


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
    raise NotImplementedError

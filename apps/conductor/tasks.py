"""Conductor tasks: thin wrappers that call one conductor service each.

Names and arguments are the messages' (`computecloud.messages.to_conductor` from the API and
beat, `from_compute` from the hosts): each task's parameters are its message's TypedDict
(tests/test_messages.py). Routed to the ``conductor`` queue by `computecloud.queues`.
Each service is idempotent, so late acknowledgement and redelivery after a lost worker are
safe.
"""

import logging
from typing import Any

from celery import shared_task

from apps.conductor import moves, networking, services, volumes
from apps.images.services import reset_stale_uploads
from computecloud.messages import from_compute, to_conductor
from computecloud.messages.from_compute import Console, Fault
from computecloud.wire import AlternatePayload, StoragePoolPayload

logger = logging.getLogger(__name__)


@shared_task(name=to_conductor.SCHEDULE_AND_BUILD_SERVERS)
def schedule_and_build_servers(server_uuids: list[str], request_id: str) -> None:
    services.schedule_and_build_servers(server_uuids=server_uuids, request_id=request_id)


@shared_task(name=from_compute.BUILD_SERVER_DONE)
def build_server_done(
    host: str,
    server_uuid: str,
    request_id: str,
    power_state: int,
    console: Console | None = None,
    started_at: float | None = None,
) -> None:
    services.build_server_done(
        host=host,
        server_uuid=server_uuid,
        request_id=request_id,
        power_state=power_state,
        console=console,
        started_at=started_at,
    )


@shared_task(name=from_compute.BUILD_SERVER_FAILED)
def build_server_failed(
    host: str,
    server_uuid: str,
    request_id: str,
    fault: Fault,
    alternates: list[AlternatePayload],
    started_at: float | None = None,
) -> None:
    services.build_server_failed(
        host=host,
        server_uuid=server_uuid,
        request_id=request_id,
        fault=fault,
        alternates=alternates,
        started_at=started_at,
    )


@shared_task(name=to_conductor.RUN_SERVER_ACTION)
def run_server_action(server_uuid: str, action: str, request_id: str) -> None:
    services.run_server_action(server_uuid=server_uuid, action=action, request_id=request_id)


@shared_task(name=from_compute.SERVER_ACTION_DONE)
def server_action_done(
    host: str,
    server_uuid: str,
    action: str,
    request_id: str,
    ok: bool,
    power_state: int,
    fault: Fault | None = None,
    console: Console | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    services.server_action_done(
        host=host,
        server_uuid=server_uuid,
        action=action,
        request_id=request_id,
        ok=ok,
        power_state=power_state,
        fault=fault,
        console=console,
        extra=extra,
    )


@shared_task(name=to_conductor.DELETE_SERVER)
def delete_server(server_uuid: str, request_id: str) -> None:
    services.delete_server(server_uuid=server_uuid, request_id=request_id)


@shared_task(name=from_compute.SERVER_DELETED)
def server_deleted(host: str, server_uuid: str, request_id: str) -> None:
    services.server_deleted(host=host, server_uuid=server_uuid, request_id=request_id)


@shared_task(name=from_compute.SERVER_DELETE_FAILED)
def server_delete_failed(host: str, server_uuid: str, request_id: str, fault: Fault) -> None:
    services.server_delete_failed(
        host=host, server_uuid=server_uuid, request_id=request_id, fault=fault
    )


@shared_task(name=to_conductor.SYNC_HOST_NETWORKS)
def sync_host_networks(hosts: list[str]) -> None:
    networking.sync_hosts(hosts)


@shared_task(name=from_compute.INTERFACE_ATTACHED)
def interface_attached(
    host: str, server_uuid: str, port_id: str, request_id: str | None, ok: bool, fault: Fault | None
) -> None:
    networking.interface_attached(
        host=host,
        server_uuid=server_uuid,
        port_id=port_id,
        request_id=request_id,
        ok=ok,
        fault=dict(fault or {}),
    )


@shared_task(name=from_compute.INTERFACE_DETACHED)
def interface_detached(
    host: str, server_uuid: str, port_id: str, request_id: str | None, ok: bool, fault: Fault | None
) -> None:
    networking.interface_detached(
        host=host,
        server_uuid=server_uuid,
        port_id=port_id,
        request_id=request_id,
        ok=ok,
        fault=dict(fault or {}),
    )


@shared_task(name=from_compute.VOLUME_DONE)
def volume_done(
    host: str,
    operation: str,
    volume_id: str,
    snapshot_id: str | None,
    request_id: str | None,
    ok: bool,
    fault: Fault | None,
) -> None:
    volumes.volume_done(
        host=host,
        operation=operation,
        volume_id=volume_id,
        snapshot_id=snapshot_id,
        request_id=request_id,
        ok=ok,
        fault=dict(fault or {}),
    )


@shared_task(name=from_compute.VOLUME_ATTACHED)
def volume_attached(
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None,
    fault: Fault | None,
) -> None:
    volumes.volume_attached(
        host=host,
        server_uuid=server_uuid,
        volume_id=volume_id,
        attachment_id=attachment_id,
        request_id=request_id,
        ok=ok,
        device=device,
        fault=dict(fault or {}),
    )


@shared_task(name=from_compute.VOLUME_DETACHED)
def volume_detached(
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None,
    fault: Fault | None,
) -> None:
    volumes.volume_detached(
        host=host,
        server_uuid=server_uuid,
        volume_id=volume_id,
        attachment_id=attachment_id,
        request_id=request_id,
        ok=ok,
        device=device,
        fault=dict(fault or {}),
    )


@shared_task(name=from_compute.COMPUTE_STARTED)
def compute_started(
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    interrupted_builds: list[str] | None = None,
    instance_files: list[str] | None = None,
    storage: StoragePoolPayload | None = None,
) -> None:
    volumes.record_pool(host=host, storage=storage)
    services.compute_started(
        host=host,
        facts=facts,
        power_states=power_states,
        interrupted_builds=interrupted_builds,
        instance_files=instance_files,
    )
    volumes.resume_on_host(host)


@shared_task(name=from_compute.COMPUTE_HEARTBEAT)
def compute_heartbeat(
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    observed_at: float | None = None,
    instance_files: list[str] | None = None,
    storage: StoragePoolPayload | None = None,
) -> None:
    volumes.record_pool(host=host, storage=storage)
    services.compute_heartbeat(
        host=host,
        facts=facts,
        power_states=power_states,
        observed_at=observed_at,
        instance_files=instance_files,
    )


@shared_task(name=to_conductor.RESET_STALE_IMAGE_UPLOADS)
def reset_stale_image_uploads() -> None:
    count = reset_stale_uploads()
    if count:
        logger.warning("%d image uploads abandoned mid-stream put back to queued", count)


@shared_task(name=to_conductor.EXPIRE_STUCK_BUILDS)
def expire_stuck_builds() -> None:
    count = services.expire_stuck_builds()
    if count:
        logger.warning("%d stuck builds put in ERROR", count)


# --- snapshots and moves (apps/conductor/moves.py) ----------------------------------------------
@shared_task(name=to_conductor.SNAPSHOT_SERVER)
def snapshot_server(server_uuid: str, image_id: str, request_id: str) -> None:
    moves.snapshot_server(server_uuid=server_uuid, image_id=image_id, request_id=request_id)


@shared_task(name=to_conductor.RESIZE_SERVER)
def resize_server(server_uuid: str, migration_uuid: str, request_id: str) -> None:
    moves.resize_server(
        server_uuid=server_uuid, migration_uuid=migration_uuid, request_id=request_id
    )


@shared_task(name=from_compute.RESIZE_MIGRATED)
def resize_migrated(
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool,
    power_on: bool,
    transfer_image_id: str,
    fault: Fault | None = None,
) -> None:
    moves.resize_migrated(
        host=host,
        server_uuid=server_uuid,
        migration_uuid=migration_uuid,
        request_id=request_id,
        ok=ok,
        power_on=power_on,
        transfer_image_id=transfer_image_id,
        fault=fault,
    )


@shared_task(name=from_compute.RESIZE_FINISHED)
def resize_finished(
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool,
    power_state: int = 0,
    console: Console | None = None,
    fault: Fault | None = None,
    transfer_image_id: str | None = None,
) -> None:
    moves.resize_finished(
        host=host,
        server_uuid=server_uuid,
        migration_uuid=migration_uuid,
        request_id=request_id,
        ok=ok,
        power_state=power_state,
        console=console,
        fault=fault,
        transfer_image_id=transfer_image_id,
    )


@shared_task(name=to_conductor.CONFIRM_RESIZE)
def confirm_resize(server_uuid: str, migration_uuid: str, request_id: str) -> None:
    moves.confirm_resize(
        server_uuid=server_uuid, migration_uuid=migration_uuid, request_id=request_id
    )


@shared_task(name=from_compute.RESIZE_CONFIRMED)
def resize_confirmed(
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool = True,
    fault: Fault | None = None,
) -> None:
    moves.resize_confirmed(
        host=host,
        server_uuid=server_uuid,
        migration_uuid=migration_uuid,
        request_id=request_id,
        ok=ok,
        fault=fault,
    )


@shared_task(name=to_conductor.REVERT_RESIZE)
def revert_resize(server_uuid: str, migration_uuid: str, request_id: str) -> None:
    moves.revert_resize(
        server_uuid=server_uuid, migration_uuid=migration_uuid, request_id=request_id
    )


@shared_task(name=from_compute.RESIZE_REVERTED_ON_DEST)
def resize_reverted_on_dest(
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool = True,
    fault: Fault | None = None,
) -> None:
    moves.resize_reverted_on_dest(
        host=host,
        server_uuid=server_uuid,
        migration_uuid=migration_uuid,
        request_id=request_id,
        ok=ok,
        fault=fault,
    )


@shared_task(name=from_compute.RESIZE_REVERTED)
def resize_reverted(
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool,
    power_state: int = 0,
    console: Console | None = None,
    fault: Fault | None = None,
) -> None:
    moves.resize_reverted(
        host=host,
        server_uuid=server_uuid,
        migration_uuid=migration_uuid,
        request_id=request_id,
        ok=ok,
        power_state=power_state,
        console=console,
        fault=fault,
    )


@shared_task(name=to_conductor.CONFIRM_EXPIRED_RESIZES)
def confirm_expired_resizes() -> None:
    services.confirm_expired_resizes()


@shared_task(name=to_conductor.REBUILD_SERVER)
def rebuild_server(server_uuid: str, request_id: str) -> None:
    services.rebuild_server(server_uuid=server_uuid, request_id=request_id)

"""Conductor tasks: thin wrappers that call one conductor service each.

Names are explicit (``conductor.<verb>``) and routed to the ``conductor`` queue by
`computecloud.queues`. Arguments are JSON. Each service is idempotent, so late
acknowledgement and redelivery after a lost worker are safe.
"""

import logging
from typing import Any

from celery import shared_task

from apps.conductor import moves, services

logger = logging.getLogger(__name__)


@shared_task(name="conductor.schedule_and_build_servers")
def schedule_and_build_servers(server_uuids: list[str], request_id: str) -> None:
    services.schedule_and_build_servers(server_uuids=server_uuids, request_id=request_id)


@shared_task(name="conductor.build_server_done")
def build_server_done(
    host: str,
    server_uuid: str,
    request_id: str,
    power_state: int,
    console: dict[str, Any] | None = None,
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


@shared_task(name="conductor.build_server_failed")
def build_server_failed(
    host: str,
    server_uuid: str,
    request_id: str,
    fault: dict[str, Any],
    alternates: list[dict[str, Any]],
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


@shared_task(name="conductor.run_server_action")
def run_server_action(server_uuid: str, action: str, request_id: str) -> None:
    services.run_server_action(server_uuid=server_uuid, action=action, request_id=request_id)


@shared_task(name="conductor.server_action_done")
def server_action_done(**kwargs: Any) -> None:
    services.server_action_done(**kwargs)


@shared_task(name="conductor.delete_server")
def delete_server(server_uuid: str, request_id: str) -> None:
    services.delete_server(server_uuid=server_uuid, request_id=request_id)


@shared_task(name="conductor.server_deleted")
def server_deleted(host: str, server_uuid: str, request_id: str) -> None:
    services.server_deleted(host=host, server_uuid=server_uuid, request_id=request_id)


@shared_task(name="conductor.server_delete_failed")
def server_delete_failed(
    host: str, server_uuid: str, request_id: str, fault: dict[str, Any]
) -> None:
    services.server_delete_failed(
        host=host, server_uuid=server_uuid, request_id=request_id, fault=fault
    )


@shared_task(name="conductor.compute_started")
def compute_started(
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    interrupted_builds: list[str] | None = None,
    instance_files: list[str] | None = None,
) -> None:
    services.compute_started(
        host=host,
        facts=facts,
        power_states=power_states,
        interrupted_builds=interrupted_builds,
        instance_files=instance_files,
    )


@shared_task(name="conductor.compute_heartbeat")
def compute_heartbeat(
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    observed_at: float | None = None,
    instance_files: list[str] | None = None,
) -> None:
    services.compute_heartbeat(
        host=host,
        facts=facts,
        power_states=power_states,
        observed_at=observed_at,
        instance_files=instance_files,
    )


@shared_task(name="conductor.reset_stale_image_uploads")
def reset_stale_image_uploads() -> None:
    from apps.images.services import reset_stale_uploads

    count = reset_stale_uploads()
    if count:
        logger.warning("%d image uploads abandoned mid-stream put back to queued", count)


@shared_task(name="conductor.expire_stuck_builds")
def expire_stuck_builds() -> None:
    count = services.expire_stuck_builds()
    if count:
        logger.warning("%d stuck builds put in ERROR", count)


# --- snapshots and moves (apps/conductor/moves.py) ----------------------------------------------
@shared_task(name="conductor.snapshot_server")
def snapshot_server(server_uuid: str, image_id: str, request_id: str) -> None:
    moves.snapshot_server(server_uuid=server_uuid, image_id=image_id, request_id=request_id)


@shared_task(name="conductor.resize_server")
def resize_server(server_uuid: str, migration_uuid: str, request_id: str) -> None:
    moves.resize_server(
        server_uuid=server_uuid, migration_uuid=migration_uuid, request_id=request_id
    )


@shared_task(name="conductor.resize_migrated")
def resize_migrated(**kwargs: Any) -> None:
    moves.resize_migrated(**kwargs)


@shared_task(name="conductor.resize_finished")
def resize_finished(**kwargs: Any) -> None:
    moves.resize_finished(**kwargs)


@shared_task(name="conductor.confirm_resize")
def confirm_resize(server_uuid: str, migration_uuid: str, request_id: str) -> None:
    moves.confirm_resize(
        server_uuid=server_uuid, migration_uuid=migration_uuid, request_id=request_id
    )


@shared_task(name="conductor.resize_confirmed")
def resize_confirmed(**kwargs: Any) -> None:
    moves.resize_confirmed(**kwargs)


@shared_task(name="conductor.revert_resize")
def revert_resize(server_uuid: str, migration_uuid: str, request_id: str) -> None:
    moves.revert_resize(
        server_uuid=server_uuid, migration_uuid=migration_uuid, request_id=request_id
    )


@shared_task(name="conductor.resize_reverted_on_dest")
def resize_reverted_on_dest(**kwargs: Any) -> None:
    moves.resize_reverted_on_dest(**kwargs)


@shared_task(name="conductor.resize_reverted")
def resize_reverted(**kwargs: Any) -> None:
    moves.resize_reverted(**kwargs)


@shared_task(name="conductor.confirm_expired_resizes")
def confirm_expired_resizes() -> None:
    services.confirm_expired_resizes()


@shared_task(name="conductor.rebuild_server")
def rebuild_server(server_uuid: str, request_id: str) -> None:
    services.rebuild_server(server_uuid=server_uuid, request_id=request_id)

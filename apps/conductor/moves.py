"""Snapshots, resizes and cold migrations: the multi-host flows, step by step.

Resize/migrate, as Nova does it, with a real disk transfer between hosts that share nothing:
1. ``resize_server``: schedule the new flavor (the migration takes over the source allocation,
   the instance claims on the destination), then the source host powers off and uploads its
   disk to a transfer object in the image service (``resize_migrated``);
2. the destination host downloads it and starts the instance with the new flavor
   (``resize_finished``): the server is VERIFY_RESIZE;
3. ``confirm_resize`` drops the source allocation and the source copy; ``revert_resize``
   removes the destination copy and restarts the source with the old flavor.
Each step checks the task state it expects in the UPDATE that changes it
(`states.transition`), so redelivered messages do nothing twice and a delete that lands
between a step's read and its write wins.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, TypedDict

from django.db import transaction

from apps.conductor import networking, volumes
from apps.conductor.payloads import image_payload, instance_payload
from apps.consoles.services import revoke_server_tokens
from apps.images.models import Image
from apps.images.services import (
    create_transfer_image,
    delete_transfer_image,
    signed_download_url,
    signed_upload_url,
)
from apps.placement.services import confirm_move, revert_move
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.services import select_destinations
from apps.servers import history, states
from apps.servers.choices import PowerState, TaskState, VmState
from apps.servers.faults import from_report
from apps.servers.models import Migration, Server
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit

logger = logging.getLogger(__name__)


def _event(action: str) -> str:
    return f"compute_{action}_instance"


# --- snapshot -----------------------------------------------------------------------------------
def snapshot_server(*, server_uuid: str, image_id: str, request_id: str) -> None:
    with transaction.atomic():
        if not Image.objects.filter(id=image_id).exists():
            _snapshot_image_gone(server_uuid=server_uuid, image_id=image_id, request_id=request_id)
            return
        if not states.transition(
            server_uuid,
            action="snapshot",
            expected={"task_state": [TaskState.IMAGE_SNAPSHOT]},
            quiet=True,
            task_state=TaskState.IMAGE_UPLOADING,
        ):
            return
        server = Server.objects.get(uuid=server_uuid)
        image = Image.objects.get(id=image_id)
        payload: to_compute.SnapshotPayload = {
            "server_uuid": server_uuid,
            "image_id": image_id,
            "upload_url": signed_upload_url(image_id=image.id),
            "request_id": request_id,
        }
        history.start_event(
            server=server,
            request_id=request_id,
            event="compute_snapshot_instance",
            host=server.host,
        )
        to_compute.snapshot_server(enqueue_on_commit, server.host, payload=payload)


def _snapshot_image_gone(*, server_uuid: str, image_id: str, request_id: str) -> None:
    """The snapshot's image was deleted before the snapshot started (a user may delete it at
    once): nothing to write to, so the server goes back to idle and the action says why, as
    Nova does on "Image not found during snapshot". The server itself is fine: no fault."""
    if not states.transition(
        server_uuid,
        action="snapshot",
        expected={"task_state": [TaskState.IMAGE_SNAPSHOT]},
        quiet=True,
        task_state=None,
    ):
        return
    server = Server.objects.get(uuid=server_uuid)
    event = "compute_snapshot_instance"
    history.start_event(server=server, request_id=request_id, event=event, host=server.host)
    history.finish_event(
        server=server,
        request_id=request_id,
        event=event,
        ok=False,
        host=server.host,
        details=f"Image {image_id} was deleted before the snapshot started.",
    )
    logger.info("server %s: snapshot image %s deleted before it started", server_uuid, image_id)


# --- resize / migrate ---------------------------------------------------------------------------
def _move_spec(server: Server, migration: Migration) -> Any:
    group = getattr(server, "group_membership", None)
    return RequestSpec.from_request(
        instance_uuids=[str(server.uuid)],
        # A server booted from a volume claims no local root disk on the destination either.
        flavor=migration.new_flavor
        if server.image_ref
        else {**(migration.new_flavor or {}), "disk": 0},
        image_properties=(server.image_meta or {}).get("properties", {}),
        project_id=server.project_id,
        user_id=server.user_id,
        availability_zone=server.requested_availability_zone,
        server_group=str(group.group.uuid) if group is not None else None,
        scheduler_hints=server.scheduler_hints or {},
        # Its volumes on a host's own disk keep it there (docs/volumes.md).
        requested_host=migration.dest_host or volumes.pinned_host(server),
        is_move=True,
        is_resize=migration.migration_type == Migration.Type.RESIZE,
        source_host=server.host,
        migration_uuid=str(migration.uuid),
    )


def _fail_move(
    server: Server,
    migration: Migration,
    *,
    expected_task_state: str,
    request_id: str,
    action: str,
    message: str,
    vm_state: str | None = None,
    details: str = "",
    explanation: dict[str, Any] | None = None,
) -> bool:
    """End a failed move: the migration in error; the server idle (in `vm_state` if given),
    with a fault, if it is still in `expected_task_state` (a delete may have won).
    `explanation`: a "No valid host" failure's, kept with the fault (`history.add_fault`)."""
    Migration.objects.filter(pk=migration.pk).update(status=Migration.Status.ERROR)
    if not states.transition(
        server,
        action=action,
        expected={"task_state": [expected_task_state]},
        quiet=True,
        task_state=None,
        **({"vm_state": vm_state} if vm_state else {}),
    ):
        return False
    history.add_fault(server=server, message=message, details=details, explanation=explanation)
    history.finish_event(
        server=server,
        request_id=request_id,
        event=_event(action),
        ok=False,
        details=message,
        traceback=details or None,
    )
    logger.error("%s of server %s failed: %s", action, server.uuid, message)
    return True


class _FailureText(TypedDict):
    message: str
    details: str


def _failure(fault: dict[str, Any] | None, default: str) -> _FailureText:
    """`_fail_move`'s message and details for a host's failure report (apps.servers.faults:
    the public message for everyone, the error's full text for admins)."""
    failure = from_report(fault, default=default)
    return {"message": failure.message, "details": failure.details}


def resize_server(*, server_uuid: str, migration_uuid: str, request_id: str) -> None:
    server = Server.objects.filter(uuid=server_uuid, task_state=TaskState.RESIZE_PREP).first()
    if server is None:
        return
    migration = Migration.objects.get(uuid=migration_uuid)
    action = "resize" if migration.migration_type == Migration.Type.RESIZE else "migrate"
    history.start_event(server=server, request_id=request_id, event=_event(action))
    try:
        with transaction.atomic():
            # First, so that a server deleted since it was read gets no claim (and the row
            # stays locked until the claim commits).
            if not states.transition(
                server,
                action=action,
                expected={"task_state": [TaskState.RESIZE_PREP]},
                quiet=True,
                task_state=TaskState.RESIZE_MIGRATING,
            ):
                return
            selection = select_destinations(_move_spec(server, migration))[0]
            transfer = create_transfer_image(server=server, migration_uuid=migration_uuid)
            Migration.objects.filter(pk=migration.pk).update(
                dest_host=selection.host,
                dest_node=selection.node,
                status=Migration.Status.MIGRATING,
            )
            payload: to_compute.ResizePayload = {
                "server_uuid": server_uuid,
                "migration_uuid": migration_uuid,
                "transfer_image_id": str(transfer.id),
                "upload_url": signed_upload_url(image_id=transfer.id),
                "power_on": server.vm_state == VmState.ACTIVE,
                "request_id": request_id,
            }
            to_compute.resize_server(enqueue_on_commit, server.host, payload=payload)
        logger.info("%s of %s: %s -> %s", action, server_uuid, server.host, selection.host)
    except NoValidHost as exc:
        with transaction.atomic():
            _fail_move(
                server,
                migration,
                expected_task_state=TaskState.RESIZE_PREP,  # the block above rolled back
                request_id=request_id,
                action=action,
                message=str(exc),
                explanation=exc.fault_explanation,
            )


def resize_migrated(
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool,
    power_on: bool,
    transfer_image_id: str,
    fault: dict[str, Any] | None = None,
) -> None:
    """The source host has powered off and uploaded the disk: the destination takes over."""
    with transaction.atomic():
        server = Server.objects.filter(
            uuid=server_uuid, task_state=TaskState.RESIZE_MIGRATING
        ).first()
        if server is None:
            return
        migration = Migration.objects.get(uuid=migration_uuid)
        if not ok:
            if _fail_move(
                server,
                migration,
                expected_task_state=TaskState.RESIZE_MIGRATING,
                request_id=request_id,
                action="resize",
                **_failure(fault, "resize failed on the source"),
                vm_state=VmState.ERROR,
            ):
                revert_move(instance_uuid=server_uuid, migration_uuid=migration_uuid)
            # The disk never reached the destination: its transfer object is of no more use
            # (left behind, it would also keep the project from being deleted).
            transaction.on_commit(partial(_delete_transfer, transfer_image_id))
            return
        if not states.transition(
            server,
            action="resize",
            expected={"task_state": [TaskState.RESIZE_MIGRATING]},
            quiet=True,
            task_state=TaskState.RESIZE_MIGRATED,
        ):
            return
        instance = instance_payload(server)
        instance.update(_flavor_fields(migration.new_flavor, server))
        payload: to_compute.FinishResizePayload = {
            "server_uuid": server_uuid,
            "migration_uuid": migration_uuid,
            "instance": instance,
            "image": image_payload(server),
            "disk_url": signed_download_url(image_id=transfer_image_id),
            "transfer_image_id": transfer_image_id,
            "power_on": power_on,
            "request_id": request_id,
        }
        plug = networking.rebind(server, host=migration.dest_host or "")
        if plug is not None:
            payload["networks"] = plug
        to_compute.finish_resize(enqueue_on_commit, migration.dest_host or "", payload=payload)


def _root_gb(flavor: dict[str, Any], server: Server) -> int:
    """The local root disk: the flavor's, none for a server whose root is a volume."""
    return int(flavor.get("disk", 0)) if server.image_ref else 0


def _flavor_fields(flavor: dict[str, Any], server: Server) -> dict[str, Any]:
    return {
        "memory_mb": int(flavor.get("ram", 0)),
        "vcpus": int(flavor.get("vcpus", 0)),
        "root_gb": _root_gb(flavor, server),
        "ephemeral_gb": int(flavor.get("ephemeral") or 0),
        "swap_mb": int(flavor.get("swap") or 0),
        "flavor_name": flavor.get("name"),
        "extra_specs": flavor.get("extra_specs", {}),
    }


def _server_flavor_columns(flavor: dict[str, Any], server: Server) -> dict[str, Any]:
    return {
        "flavor": flavor,
        "flavor_id": flavor.get("id", ""),
        "vcpus": int(flavor.get("vcpus", 0)),
        "memory_mb": int(flavor.get("ram", 0)),
        "root_gb": _root_gb(flavor, server),
    }


def resize_finished(
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool,
    power_state: int = 0,
    console: dict[str, Any] | None = None,
    fault: dict[str, Any] | None = None,
    transfer_image_id: str | None = None,
) -> None:
    with transaction.atomic():
        server = Server.objects.filter(
            uuid=server_uuid, task_state=TaskState.RESIZE_MIGRATED
        ).first()
        if server is None:
            return
        migration = Migration.objects.get(uuid=migration_uuid)
        action = "resize" if migration.migration_type == Migration.Type.RESIZE else "migrate"
        if not ok:
            _fail_move(
                server,
                migration,
                expected_task_state=TaskState.RESIZE_MIGRATED,
                request_id=request_id,
                action=action,
                **_failure(fault, "resize failed on the destination"),
                vm_state=VmState.ERROR,
            )
            transaction.on_commit(partial(_delete_transfer, transfer_image_id))  # as on success
            return
        if not states.transition(
            server,
            action=action,
            expected={"task_state": [TaskState.RESIZE_MIGRATED]},
            quiet=True,
            vm_state=VmState.RESIZED,
            task_state=None,
            host=migration.dest_host,
            node=migration.dest_node,
            power_state=power_state,
            console=console,
            **_server_flavor_columns(migration.new_flavor, server),
        ):
            return
        Migration.objects.filter(pk=migration.pk).update(status=Migration.Status.FINISHED)
        revoke_server_tokens(server_uuid=server_uuid)  # its console moved with it
        history.finish_event(
            server=server, request_id=request_id, event=_event(action), ok=True, host=host
        )
    _delete_transfer(transfer_image_id)
    logger.info("server %s resized onto %s; awaiting confirmation", server_uuid, host)


def _delete_transfer(image_id: str | None) -> None:
    if image_id:
        delete_transfer_image(image_id=image_id)


def confirm_resize(*, server_uuid: str, migration_uuid: str, request_id: str) -> None:
    server = Server.objects.filter(uuid=server_uuid, task_state=TaskState.RESIZE_CONFIRMING).first()
    if server is None:
        return
    migration = Migration.objects.get(uuid=migration_uuid)
    with transaction.atomic():
        confirm_move(migration_uuid=migration_uuid)
    history.start_event(
        server=server,
        request_id=request_id,
        event=_event("confirm_resize"),
        host=migration.source_host,
    )
    to_compute.confirm_resize(
        enqueue_on_commit,
        migration.source_host,
        payload={
            "server_uuid": server_uuid,
            "migration_uuid": migration_uuid,
            "request_id": request_id,
            "same_host": migration.source_host == migration.dest_host,
        },
    )


def resize_confirmed(
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool = True,
    fault: dict[str, Any] | None = None,
) -> None:
    with transaction.atomic():
        server = Server.objects.filter(
            uuid=server_uuid, task_state=TaskState.RESIZE_CONFIRMING
        ).first()
        if server is None:
            return
        vm_state = VmState.ACTIVE if server.power_state == PowerState.RUNNING else VmState.STOPPED
        if not states.transition(
            server,
            action="confirm resize",
            expected={"task_state": [TaskState.RESIZE_CONFIRMING]},
            quiet=True,
            vm_state=vm_state,
            task_state=None,
        ):
            return
        Migration.objects.filter(uuid=migration_uuid).update(status=Migration.Status.CONFIRMED)
        history.finish_event(
            server=server,
            request_id=request_id,
            event=_event("confirm_resize"),
            ok=ok,
            host=host,
            details=from_report(fault, default="confirm failed").message if fault else None,
        )
    logger.info("resize of %s confirmed; source copy on %s removed", server_uuid, host)


def revert_resize(*, server_uuid: str, migration_uuid: str, request_id: str) -> None:
    server = Server.objects.filter(uuid=server_uuid, task_state=TaskState.RESIZE_REVERTING).first()
    if server is None:
        return
    migration = Migration.objects.get(uuid=migration_uuid)
    history.start_event(
        server=server,
        request_id=request_id,
        event=_event("revert_resize"),
        host=migration.dest_host,
    )
    to_compute.revert_resize(
        enqueue_on_commit,
        migration.dest_host or "",
        payload={
            "server_uuid": server_uuid,
            "migration_uuid": migration_uuid,
            "request_id": request_id,
            "same_host": migration.source_host == migration.dest_host,
        },
    )


def resize_reverted_on_dest(
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool = True,
    fault: dict[str, Any] | None = None,
) -> None:
    """The destination copy is gone: restart the source with the old flavor."""
    server = Server.objects.filter(uuid=server_uuid, task_state=TaskState.RESIZE_REVERTING).first()
    if server is None:
        return
    migration = Migration.objects.get(uuid=migration_uuid)
    instance = instance_payload(server)
    instance.update(_flavor_fields(migration.old_flavor, server))
    payload: to_compute.FinishRevertPayload = {
        "server_uuid": server_uuid,
        "migration_uuid": migration_uuid,
        "instance": instance,
        "image": image_payload(server),
        "power_on": server.power_state == PowerState.RUNNING,
        "request_id": request_id,
    }
    plug = networking.rebind(server, host=migration.source_host)
    if plug is not None:
        payload["networks"] = plug
    to_compute.finish_revert_resize(enqueue_on_commit, migration.source_host, payload=payload)


def resize_reverted(
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str,
    ok: bool,
    power_state: int = 0,
    console: dict[str, Any] | None = None,
    fault: dict[str, Any] | None = None,
) -> None:
    with transaction.atomic():
        server = Server.objects.filter(
            uuid=server_uuid, task_state=TaskState.RESIZE_REVERTING
        ).first()
        if server is None:
            return
        migration = Migration.objects.get(uuid=migration_uuid)
        if not ok:
            if _fail_move(
                server,
                migration,
                expected_task_state=TaskState.RESIZE_REVERTING,
                request_id=request_id,
                action="revert_resize",
                **_failure(fault, "revert failed"),
                vm_state=VmState.ERROR,
            ):
                revert_move(instance_uuid=server_uuid, migration_uuid=migration_uuid)
            return
        vm_state = VmState.ACTIVE if power_state == PowerState.RUNNING else VmState.STOPPED
        if not states.transition(
            server,
            action="revert resize",
            expected={"task_state": [TaskState.RESIZE_REVERTING]},
            quiet=True,
            vm_state=vm_state,
            task_state=None,
            host=migration.source_host,
            node=migration.source_node or migration.source_host,
            power_state=power_state,
            console=console,
            **_server_flavor_columns(migration.old_flavor, server),
        ):
            return
        revert_move(instance_uuid=server_uuid, migration_uuid=migration_uuid)
        Migration.objects.filter(pk=migration.pk).update(status=Migration.Status.REVERTED)
        revoke_server_tokens(server_uuid=server_uuid)
        history.finish_event(
            server=server,
            request_id=request_id,
            event=_event("revert_resize"),
            ok=True,
            host=host,
        )
    logger.info("resize of %s reverted onto %s", server_uuid, host)

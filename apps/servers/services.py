"""Server operations: every write to an existing server goes through one of these functions
(creating one is apps/servers/create.py; what a request names is resolved in resolvers.py;
the history a user reads is written through history.py).

Each one checks the caller's right and the instance's state, commits the state change with
one conditional UPDATE (`states.transition`), records the instance action, and enqueues the
work for the conductor after the transaction commits. Nothing here talks to a hypervisor.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from apps.flavors.models import Flavor
from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.images.services import create_snapshot_image
from apps.networks import services as networks
from apps.placement.services import release_allocations
from apps.quotas import services as quotas
from apps.servers import states
from apps.servers.actions import SIMPLE_ACTIONS
from apps.servers.choices import TaskState, VmState
from apps.servers.exceptions import ServerLocked, ServerNotFound
from apps.servers.history import finish_event, record_action
from apps.servers.models import (
    BlockDeviceMapping,
    Migration,
    Server,
    ServerGroupMember,
    ServerMetadata,
    ServerTag,
)
from apps.servers.resolvers import flavor_snapshot, key_data_for, resolve_flavor, resolve_image
from apps.volumes import attachments as volume_attachments
from computecloud.exceptions import Conflict, InvalidInput, NotFound
from computecloud.messages import to_compute, to_conductor
from computecloud.tasking import call, enqueue_on_commit

logger = logging.getLogger(__name__)


# --- reading ------------------------------------------------------------------------------------
def visible_servers(context: RequestContext, *, all_tenants: bool = False) -> Any:
    """The servers `context` may see: its project's, or all for an admin asking all_tenants."""
    queryset = Server.objects.all()
    if all_tenants and context.is_admin:
        return queryset
    return queryset.for_project(context.project_id)


def running_vms() -> dict[str, int]:
    """Host → how many servers are placed on it."""
    return dict(
        Server.objects.filter(host__isnull=False)
        .values_list("host")
        .annotate(n=Count("id"))
        .values_list("host", "n")
    )


def servers_on_hosts(hosts: set[str]) -> dict[str, list[dict[str, str]]]:
    """Host → its servers' uuid and name, oldest first."""
    by_host: dict[str, list[dict[str, str]]] = {}
    rows = Server.objects.filter(host__in=hosts).order_by("created_at")
    for host, server_uuid, name in rows.values_list("host", "uuid", "name"):
        by_host.setdefault(host, []).append({"uuid": str(server_uuid), "name": name})
    return by_host


def usage_by_project_on(host: str) -> list[dict[str, Any]]:
    """The host's servers' vcpus, memory and disk summed per project, by project id."""
    return list(
        Server.objects.filter(host=host)
        .values("project_id")
        .annotate(cpu=Sum("vcpus"), memory_mb=Sum("memory_mb"), disk_gb=Sum("root_gb"))
        .order_by("project_id")
    )


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def get_server(context: RequestContext, server_id: str, *, for_update: bool = False) -> Server:
    """One visible server by uuid; another project's is a 404, as a missing one is."""
    if not is_uuid(server_id):
        raise ServerNotFound(uuid=server_id)
    queryset = Server.objects.all()
    if not context.is_admin:
        queryset = queryset.for_project(context.project_id)
    if for_update:
        queryset = queryset.select_for_update()
    server = queryset.filter(uuid=server_id).first()
    if server is None:
        raise ServerNotFound(uuid=server_id)
    return server


def host_id(project_id: str, host: str | None) -> str:
    """Nova's opaque hostId: the same for one project's servers on one host."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


# --- rules shared by the operations ---------------------------------------------------------------
def check_not_locked(server: Server, context: RequestContext) -> None:
    """Nova: a locked server refuses its owner's actions; admins may act on it."""
    if server.locked and not context.is_admin:
        raise ServerLocked(uuid=server.uuid)


def count_servers(project_id: str) -> dict[str, int]:
    """Instances, cores and RAM of the project's live servers, in one statement (the usage the
    server quotas check). Under the project lock (`quotas.lock_project`) when it is checked."""
    servers = Server.objects.filter(project_id=project_id).aggregate(
        instances=Count("id"), cores=Sum("vcpus"), ram=Sum("memory_mb")
    )
    return {resource: servers[resource] or 0 for resource in ("instances", "cores", "ram")}


# --- simple actions -----------------------------------------------------------------------------
def run_simple_action(
    *, context: RequestContext, server: Server, action_name: str, request_id: str
) -> None:
    """Start one of `SIMPLE_ACTIONS` (reboot, stop, start, pause, ...) on `server`."""
    action = SIMPLE_ACTIONS[action_name]
    check_not_locked(server, context)
    with transaction.atomic():
        states.transition(
            server,
            action=action.name.split("_")[0],
            allowed=action.allowed,
            task_state=action.task_state,
        )
        record_action(
            server=server,
            action=action.name.split("_")[0],
            context=context,
            request_id=request_id,
        )
        to_conductor.run_server_action(
            enqueue_on_commit,
            server_uuid=str(server.uuid),
            action=action.name,
            request_id=request_id,
        )
    logger.info("%s of server %s requested by %s", action.name, server.uuid, context.user_id)


def lock_server(
    *, context: RequestContext, server: Server, reason: str | None, request_id: str
) -> None:
    with transaction.atomic():
        Server.objects.filter(pk=server.pk).update(
            locked=True,
            locked_by="admin"
            if context.is_admin and context.project_id != server.project_id
            else "owner",
            locked_reason=reason,
            updated_at=timezone.now(),
        )
        record_action(server=server, action="lock", context=context, request_id=request_id)


def unlock_server(*, context: RequestContext, server: Server, request_id: str) -> None:
    if server.locked_by == "admin" and not context.is_admin:
        authorize(context, "os_compute_api:os-lock-server:unlock:unlock_override")
    with transaction.atomic():
        Server.objects.filter(pk=server.pk).update(
            locked=False, locked_by=None, locked_reason=None, updated_at=timezone.now()
        )
        record_action(server=server, action="unlock", context=context, request_id=request_id)


def update_server(*, context: RequestContext, server: Server, changes: dict[str, Any]) -> Server:
    """Rename, re-describe or re-address a server (no state involved)."""
    allowed = {"name", "description", "access_ip_v4", "access_ip_v6", "hostname"}
    changes = {k: v for k, v in changes.items() if k in allowed}
    if changes:
        states.transition(server, action="update", **changes)  # in any state
        server.refresh_from_db()
    return server


# --- delete -------------------------------------------------------------------------------------
def host_is_up(host: str | None) -> bool:
    if not host:
        return False
    service = Service.objects.filter(host=host, binary=COMPUTE_BINARY).first()
    return service is not None and service.is_up


def delete_server(
    *, context: RequestContext, server: Server, request_id: str, force: bool = False
) -> None:
    """Delete from any state. A server with no host, or on a host that is down, is deleted
    locally at once (as Nova does); otherwise its host destroys it and the conductor finishes.
    A delete already under way is sent again, as Nova does: the host's delete is idempotent,
    and a repeat revives a delete whose message was lost."""
    check_not_locked(server, context)
    with transaction.atomic():
        states.transition(
            server, action="forceDelete" if force else "delete", task_state=TaskState.DELETING
        )
        record_action(
            server=server,
            action="forceDelete" if force else "delete",
            context=context,
            request_id=request_id,
        )
        if host_is_up(server.host):
            to_conductor.delete_server(
                enqueue_on_commit, server_uuid=str(server.uuid), request_id=request_id
            )
            return
        finish_local_delete(server=server, request_id=request_id)


def release_volumes(server: Server) -> None:
    """The server's guest is gone (destroyed, never built, or on a host given up): each
    volume's attachment ends, and those mapped with delete_on_termination are deleted."""
    for bdm in BlockDeviceMapping.objects.filter(server=server):
        volume_attachments.release(
            volume_id=bdm.volume_id,
            instance_uuid=str(server.uuid),
            delete=bdm.delete_on_termination,
        )
    BlockDeviceMapping.objects.filter(server=server).delete()


def finish_local_delete(*, server: Server, request_id: str) -> None:
    """Mark deleted, free its resources, tell its host (if any) to clean up when it can.

    Caller runs inside a transaction.
    """
    now = timezone.now()
    # From any state: the host, if any, has destroyed it or will when it comes back.
    if not states.transition(
        server,
        action="delete",
        quiet=True,
        deleted=True,
        deleted_at=now,
        terminated_at=now,
        vm_state=VmState.DELETED,
        task_state=None,
    ):
        return  # deleted already (a redelivered report): nothing more to do
    release_allocations(consumer_uuid=server.uuid)
    # Its addresses go back to the pools: ports made for it are deleted, the user's unbound.
    networks.deallocate_for_instance(instance_uuid=str(server.uuid))
    release_volumes(server)
    ServerGroupMember.objects.filter(server=server).delete()
    # Its console tokens are refused from now on (consoles read the live server); the
    # conductor removes their rows when it finishes a delete, expiry the rest.
    finish_event(server=server, request_id=request_id, event="api_delete", ok=True)
    if server.host:
        # The host is down: it removes the domain and files when it comes back (reconcile).
        logger.info("server %s deleted locally; host %s is down", server.uuid, server.host)


# --- admin --------------------------------------------------------------------------------------
def reset_state(*, context: RequestContext, server: Server, state: str, request_id: str) -> None:
    """os-resetState: put a stuck server in `state` (active or error), recorded as an action."""
    if state not in ("active", "error"):
        raise InvalidInput("Invalid state, must be 'active' or 'error'.")
    with transaction.atomic():
        states.transition(server, action="resetState", vm_state=state, task_state=None)
        record_action(server=server, action="resetState", context=context, request_id=request_id)
    logger.warning("server %s reset to %s by %s", server.uuid, state, context.user_id)


# --- metadata and tags --------------------------------------------------------------------------
def set_metadata(
    *, context: RequestContext, server: Server, items: dict[str, str], replace: bool
) -> dict[str, str]:
    check_not_locked(server, context)
    with transaction.atomic():
        Server.objects.select_for_update().filter(pk=server.pk).first()
        current = dict(server.metadata_items.values_list("key", "value"))
        merged = dict(items) if replace else {**current, **items}
        quotas.check_metadata_items(project=server.project, count=len(merged))
        if replace:
            server.metadata_items.exclude(key__in=list(merged)).delete()
        for key, value in items.items():
            ServerMetadata.objects.update_or_create(
                server=server, key=key, defaults={"value": value}
            )
    return merged


def delete_metadata_item(*, context: RequestContext, server: Server, key: str) -> None:
    check_not_locked(server, context)
    deleted, _ = server.metadata_items.filter(key=key).delete()
    if not deleted:
        raise NotFound("Metadata item was not found")


MAX_TAGS = 50


def set_tags(*, server: Server, tags: list[str]) -> list[str]:
    if len(set(tags)) > MAX_TAGS:
        raise InvalidInput(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    with transaction.atomic():
        server.tags.all().delete()
        ServerTag.objects.bulk_create(ServerTag(server=server, tag=t) for t in sorted(set(tags)))
    return sorted(set(tags))


def add_tag(*, server: Server, tag: str) -> bool:
    """Add one tag; False when it was already there."""
    with transaction.atomic():
        Server.objects.select_for_update().filter(pk=server.pk).first()
        if server.tags.filter(tag=tag).exists():
            return False
        if server.tags.count() >= MAX_TAGS:
            raise InvalidInput(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
        ServerTag.objects.create(server=server, tag=tag)
    return True


def delete_tag(*, server: Server, tag: str) -> None:
    deleted, _ = server.tags.filter(tag=tag).delete()
    if not deleted:
        raise NotFound(f"Tag '{tag}' could not be found.")


# --- console output -----------------------------------------------------------------------------
def get_console_output(*, context: RequestContext, server: Server, length: int | None) -> str:
    """The last `length` lines of the guest's serial log, asked of its host: a call, which
    waits at most to_compute.CONSOLE_OUTPUT_TIMEOUT seconds."""
    if not server.host or server.vm_state in (VmState.BUILDING, VmState.ERROR):
        raise Conflict(f"Instance {server.uuid} has no console output: it is {server.vm_state}.")
    if not host_is_up(server.host):
        raise Conflict(f"Compute host {server.host} could not be reached.")
    try:
        return to_compute.get_console_output(
            call, server.host, server_uuid=str(server.uuid), length=length
        )
    except Exception as exc:
        logger.warning("console output of %s from %s failed: %s", server.uuid, server.host, exc)
        raise Conflict(f"Instance {server.uuid} console output is not available now.") from exc


# --- snapshot -----------------------------------------------------------------------------------
def create_image(
    *,
    context: RequestContext,
    server: Server,
    name: str,
    metadata: dict[str, str],
    request_id: str,
) -> str:
    """createImage: a queued image in the image service that the host uploads the disk into."""
    check_not_locked(server, context)
    with transaction.atomic():
        states.transition(
            server,
            action="createImage",
            allowed=states.ALLOW_SNAPSHOT,
            task_state=TaskState.IMAGE_SNAPSHOT,
        )
        image = create_snapshot_image(
            context=context, name=name, server=server, extra_properties=metadata
        )
        record_action(server=server, action="createImage", context=context, request_id=request_id)
        to_conductor.snapshot_server(
            enqueue_on_commit,
            server_uuid=str(server.uuid),
            image_id=str(image.id),
            request_id=request_id,
        )
    return str(image.id)


# --- resize and migrate -------------------------------------------------------------------------
def resize_server(
    *, context: RequestContext, server: Server, flavor_ref: str, request_id: str
) -> None:
    check_not_locked(server, context)
    new_flavor = resolve_flavor(context, flavor_ref)
    if new_flavor.flavorid == server.flavor_id:
        raise InvalidInput("When resizing, instances must change flavor!")
    if new_flavor.root_gb < server.root_gb:
        raise InvalidInput("Resize to a flavor with a smaller disk is not allowed.")
    _start_move(
        context=context,
        server=server,
        new_flavor=flavor_snapshot(new_flavor),
        migration_type="resize",
        request_id=request_id,
        action="resize",
        quota_check=lambda project: quotas.check_server_quota(
            project=project,
            used=count_servers(project.pk),  # _start_move calls this under the project lock
            instances=0,
            cores=max(0, new_flavor.vcpus - server.vcpus),
            ram=max(0, new_flavor.memory_mb - server.memory_mb),
        ),
    )


def migrate_server(
    *, context: RequestContext, server: Server, host: str | None, request_id: str
) -> None:
    """Cold migration: a resize to the same flavor on another host."""
    _start_move(
        context=context,
        server=server,
        new_flavor=server.flavor,
        migration_type="migration",
        request_id=request_id,
        action="migrate",
        target_host=host,
    )


def _start_move(
    *,
    context: RequestContext,
    server: Server,
    new_flavor: dict[str, Any],
    migration_type: str,
    request_id: str,
    action: str,
    quota_check: Any = None,
    target_host: str | None = None,
) -> None:
    with transaction.atomic():
        project = quotas.lock_project(server.project_id)
        if quota_check is not None:
            quota_check(project)
        states.transition(
            server,
            action=action,
            allowed=states.ALLOW_RESIZE,
            task_state=TaskState.RESIZE_PREP,
        )
        migration = Migration.objects.create(
            server=server,
            migration_type=migration_type,
            source_host=server.host or "",
            source_node=server.node or "",
            dest_host=target_host,
            old_flavor=server.flavor,
            new_flavor=new_flavor,
            user_id=context.user_id,
            project_id=context.project_id or "",
        )
        record_action(server=server, action=action, context=context, request_id=request_id)
        to_conductor.resize_server(
            enqueue_on_commit,
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id,
        )


def confirm_resize(*, context: RequestContext, server: Server, request_id: str) -> None:
    _answer_resize(
        context=context,
        server=server,
        request_id=request_id,
        action="confirmResize",
        allowed=states.ALLOW_CONFIRM_RESIZE,
        task_state=TaskState.RESIZE_CONFIRMING,
        status="confirming",
        message=to_conductor.confirm_resize,
    )


def revert_resize(*, context: RequestContext, server: Server, request_id: str) -> None:
    _answer_resize(
        context=context,
        server=server,
        request_id=request_id,
        action="revertResize",
        allowed=states.ALLOW_REVERT_RESIZE,
        task_state=TaskState.RESIZE_REVERTING,
        status="reverting",
        message=to_conductor.revert_resize,
    )


def _answer_resize(
    *,
    context: RequestContext,
    server: Server,
    request_id: str,
    action: str,
    allowed: Any,
    task_state: str,
    status: str,
    message: Callable[..., None],
) -> None:
    """Confirm or revert a finished resize: the state change, the migration's status, the
    action record and the conductor's message (`to_conductor.confirm_resize` or
    `revert_resize`), in one transaction."""
    check_not_locked(server, context)
    with transaction.atomic():
        states.transition(server, action=action, allowed=allowed, task_state=task_state)
        migration = _pending_migration(server)
        Migration.objects.filter(pk=migration.pk).update(status=status)
        record_action(server=server, action=action, context=context, request_id=request_id)
        message(
            enqueue_on_commit,
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id,
        )


def _pending_migration(server: Server) -> Any:
    migration = (
        Migration.objects.filter(server=server, status=Migration.Status.FINISHED)
        .order_by("-created_at")
        .first()
    )
    if migration is None:
        raise InvalidInput(f"Instance {server.uuid} has not been resized.")
    return migration


# --- rebuild ------------------------------------------------------------------------------------
def rebuild_server(
    *,
    context: RequestContext,
    server: Server,
    image_ref: str,
    changes: dict[str, Any],
    request_id: str,
) -> Server:
    """Rebuild on the same host from `image_ref` (the disk is recreated; the flavor stays).

    `changes` may hold name, description, metadata (replaces all), user_data, key_name.
    """
    check_not_locked(server, context)
    flavor = Flavor(
        flavorid=server.flavor_id,
        memory_mb=server.memory_mb,
        root_gb=server.root_gb,
        vcpus=server.vcpus,
    )
    image = resolve_image(context, image_ref, flavor)
    if "metadata" in changes:
        quotas.check_metadata_items(project=server.project, count=len(changes["metadata"]))
    fields: dict[str, Any] = {"image_ref": image["id"], "image_meta": image}
    for key in ("name", "description", "user_data"):
        if key in changes:
            fields[key] = changes[key]
    if "key_name" in changes:
        fields["key_name"] = changes["key_name"]
        fields["key_data"] = key_data_for(context, changes["key_name"])
    with transaction.atomic():
        states.transition(
            server,
            action="rebuild",
            allowed=states.ALLOW_REBUILD,
            task_state=TaskState.REBUILDING,
            **fields,
        )
        if "metadata" in changes:
            server.metadata_items.all().delete()
            ServerMetadata.objects.bulk_create(
                ServerMetadata(server=server, key=k, value=v)
                for k, v in changes["metadata"].items()
            )
        record_action(server=server, action="rebuild", context=context, request_id=request_id)
        to_conductor.rebuild_server(
            enqueue_on_commit, server_uuid=str(server.uuid), request_id=request_id
        )
    server.refresh_from_db()
    logger.info("rebuild of server %s from image %s requested", server.uuid, image["id"])
    return server

"""Conductor services: schedule and build, carry actions to hosts, and write what hosts report.

The conductor is the only writer of instance state on behalf of compute hosts. Every function
here is idempotent against redelivery: it checks the state it expects (``task_state``, host)
in the same conditional UPDATE that changes it (`states.transition`), and does nothing when the
work is done or a delete got there first.
Compute messages are sent after the transaction that made them necessary commits.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from apps.conductor import networking, volumes
from apps.conductor.payloads import image_payload, instance_payload
from apps.consoles.services import revoke_server_tokens
from apps.hosts.services import update_compute_node
from apps.identity.choices import RoleName
from apps.identity.context import RequestContext
from apps.images.services import mark_snapshot_failed
from apps.networks import services as networks
from apps.placement.services import release_allocations
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.selection import Alternate, Selection
from apps.scheduler.services import claim_on_alternate, select_destinations
from apps.servers import history, states
from apps.servers import services as server_services
from apps.servers.actions import SIMPLE_ACTIONS
from apps.servers.choices import PowerState, TaskState, VmState
from apps.servers.faults import from_report
from apps.servers.models import InstanceAction, Migration, Server
from computecloud import metrics
from computecloud.conf import cc_settings
from computecloud.exceptions import ComputecloudError, Conflict
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit
from computecloud.wire import AlternatePayload, BuildPayload, VolumeCreatePayload

logger = logging.getLogger(__name__)

SCHEDULE_EVENT = "conductor_schedule_and_build_instances"
BUILD_EVENT = "compute_build_and_run_instance"
TRANSITIONAL_POWER_TASKS = {a.task_state for a in SIMPLE_ACTIONS.values()}


# --- build --------------------------------------------------------------------------------------
def schedule_and_build_servers(*, server_uuids: list[str], request_id: str) -> None:
    """One scheduling pass for the servers of one create request, then one build per host."""
    started_at = timezone.now()
    servers = list(
        Server.objects.filter(
            uuid__in=server_uuids, vm_state=VmState.BUILDING, task_state=TaskState.SCHEDULING
        )
        .select_related("group_membership__group")
        .order_by("launch_index")
    )
    if not servers:
        return  # redelivered: already scheduled (or deleted meanwhile)
    actions = {
        action.server_id: action
        for action in InstanceAction.objects.filter(server__in=servers, request_id=request_id)
    }
    spec = request_spec_for(servers)
    try:
        with transaction.atomic():
            selections = select_destinations(spec)
            for selection in selections:
                server = next(s for s in servers if str(s.uuid) == selection.instance_uuid)
                scheduling = {"vm_state": [VmState.BUILDING], "task_state": [TaskState.SCHEDULING]}
                if not _assign_host(server, selection, attempts=1, expected=scheduling):
                    continue  # deleted since it was read: its claim is given back
                if not _allocate_networks(server, selection.host, request_id):
                    continue
                made = _prepare_volumes(server, selection.host, request_id)
                if made is None:
                    continue
                # Volumes are made on this host's disk: a failed build is not moved elsewhere.
                alternates = [] if server.block_device_mapping else selection.alternates
                payload = _build_payload(server, request_id, alternates)
                if made:
                    payload["volumes_to_create"] = made
                _send_build(selection.host, payload)
            for server in servers:
                history.finish_event(
                    action=actions.get(server.pk),
                    request_id=request_id,
                    event=SCHEDULE_EVENT,
                    ok=True,
                    started_at=started_at,
                    finish_action=False,
                )
    except NoValidHost as exc:
        logger.warning("no valid host for %s: %s", ", ".join(server_uuids), exc)
        with transaction.atomic():
            for server in servers:
                fail_build(
                    server=server,
                    request_id=request_id,
                    message=str(exc),
                    event=SCHEDULE_EVENT,
                    details=exc.details,
                    explanation=exc.fault_explanation,
                    started_at=started_at,
                )


def request_spec_for(servers: list[Server]) -> Any:
    first = servers[0]
    group = getattr(first, "group_membership", None)
    zone = first.requested_availability_zone or ""
    destination = first.requested_destination or {}
    if destination.get("force"):
        # The admin's "zone:host[:node]" form: the scheduler's own notation for forcing.
        zone = f"{zone}:{destination.get('host') or ''}:{destination.get('node') or ''}"
    return RequestSpec.from_request(
        instance_uuids=[str(s.uuid) for s in servers],
        flavor=first.flavor if first.image_ref else _without_root_disk(first.flavor),
        image_properties=(first.image_meta or {}).get("properties", {}),
        project_id=first.project_id,
        user_id=first.user_id,
        availability_zone=zone or None,
        server_group=str(group.group.uuid) if group is not None else None,
        scheduler_hints=first.scheduler_hints or {},
        requested_host=None
        if destination.get("force")
        else destination.get("host") or volumes.pinned_host(first),
    )


def _without_root_disk(flavor: dict[str, Any] | None) -> dict[str, Any]:
    """A server booted from a volume (no image) claims no local root disk: the volume is it."""
    return {**(flavor or {}), "disk": 0}


def _assign_host(
    server: Server,
    destination: Selection | Alternate,
    *,
    attempts: int,
    expected: dict[str, list[Any]],
) -> bool:
    """Send the build to `destination` if the server is still as `expected`; otherwise (a
    delete won) give back the claim just made for it there."""
    assigned = states.transition(
        server,
        action="assign host",
        expected=expected,
        quiet=True,
        host=destination.host,
        node=destination.node,
        launched_on=destination.host,
        task_state=TaskState.SPAWNING,
        attempts=attempts,
        availability_zone=destination.availability_zone,
    )
    if not assigned:
        release_allocations(consumer_uuid=server.uuid)
    return assigned


def _allocate_networks(server: Server, host: str, request_id: str) -> bool:
    """Bind the server's ports on `host`; a failure (a full pool) fails the build, as Nova's
    "Failed to allocate the network(s), not rescheduling"."""
    try:
        with transaction.atomic():
            networking.allocate(server, host=host)
    except ComputecloudError as exc:  # the network service's refusal (a full pool)
        logger.warning("server %s: network allocation on %s failed: %s", server.uuid, host, exc)
        fail_build(
            server=server,
            request_id=request_id,
            message=f"Build of instance {server.uuid} aborted: Failed to allocate the "
            f"network(s), not rescheduling. {exc}",
            event=networking.ALLOCATE_EVENT,
        )
        return False
    return True


def _prepare_volumes(
    server: Server, host: str, request_id: str
) -> list[VolumeCreatePayload] | None:
    """The volumes the build makes on `host`; None when they cannot be (the build failed)."""
    try:
        with transaction.atomic():
            return volumes.prepare_build(server, host=host, request_id=request_id)
    except volumes.VolumeBuildError as exc:
        logger.warning("server %s: volumes on %s: %s", server.uuid, host, exc)
        fail_build(
            server=server,
            request_id=request_id,
            message=f"Build of instance {server.uuid} aborted: {exc}",
            event=volumes.BLOCK_DEVICE_EVENT,
        )
        return None


def _build_payload(server: Server, request_id: str, alternates: list[Any]) -> BuildPayload:
    payload: BuildPayload = {
        "instance": instance_payload(server),
        "image": image_payload(server),
        "request_id": request_id,
        "alternates": [_alternate_payload(a) for a in alternates],
    }
    if payload["instance"].get("network_info"):
        payload["networks"] = networking.instance_networks(str(server.uuid), host=server.host)
    return payload


def _alternate_payload(alternate: Any) -> AlternatePayload:
    return cast(AlternatePayload, alternate if isinstance(alternate, dict) else alternate.as_dict())


def _send_build(host: str, payload: BuildPayload) -> None:
    to_compute.build_server(enqueue_on_commit, host, payload=payload)


def fail_build(
    *,
    server: Server,
    request_id: str,
    message: str,
    event: str,
    details: str = "",
    host: str | None = None,
    started_at: datetime | None = None,
    explanation: dict[str, Any] | None = None,
) -> None:
    """Put a building server in ERROR with a fault; free whatever it had claimed.
    `explanation`: a "No valid host" failure's, kept with the fault (`history.add_fault`)."""
    updated = states.transition(
        server,
        action="fail build",
        expected={"vm_state": [VmState.BUILDING], "task_state": states.BUILD_TASK_STATES},
        quiet=True,
        vm_state=VmState.ERROR,
        task_state=None,
    )
    release_allocations(consumer_uuid=server.uuid)
    if not updated:
        return
    networks.deallocate_for_instance(instance_uuid=str(server.uuid))
    server_services.release_volumes(server)
    _count_build("error")
    history.add_fault(
        server=server, message=message, details=details, host=host, explanation=explanation
    )
    history.finish_event(
        server=server,
        request_id=request_id,
        event=event,
        ok=False,
        details=message,
        host=host,
        started_at=started_at,
    )
    logger.error("server %s failed to build: %s", server.uuid, message)


def build_server_done(
    *,
    host: str,
    server_uuid: str,
    request_id: str,
    power_state: int,
    console: dict[str, Any] | None = None,
    started_at: float | None = None,
) -> None:
    """The host built the server: ACTIVE, and the build event (timed by the host) recorded.
    A build nobody wants any more (deleted, rescheduled, timed out) is destroyed there."""
    now = timezone.now()
    with transaction.atomic():
        updated = states.transition(
            server_uuid,
            action="build done",
            expected={
                "host": [host],
                "vm_state": [VmState.BUILDING],
                "task_state": [TaskState.SPAWNING],
            },
            quiet=True,
            vm_state=VmState.ACTIVE,
            task_state=None,
            power_state=power_state,
            launched_at=now,
            progress=100,
            console=console,
        )
        if updated:
            networking.set_ports_status(server_uuid, status="ACTIVE", host=host)
            volumes.build_done(server_uuid, host=host)
            created_at = Server.objects.filter(uuid=server_uuid).values_list(
                "created_at", flat=True
            )
            _count_build("active", posted_at=created_at.first(), active_at=now)
            history.finish_event(
                action=history.find_action(server_uuid=server_uuid, request_id=request_id),
                request_id=request_id,
                event=BUILD_EVENT,
                ok=True,
                host=host,
                started_at=_from_epoch(started_at),
            )
            logger.info("server %s is ACTIVE on %s", server_uuid, host)
            return
        server = Server.with_deleted.filter(uuid=server_uuid).first()
        if server is None:
            return
        if server.deleted or server.host != host or server.vm_state == VmState.ERROR:
            # Built where it is no longer wanted (deleted, rescheduled, timed out): remove it.
            logger.warning(
                "server %s built on %s but not wanted there; destroying", server_uuid, host
            )
            to_compute.destroy_orphan(enqueue_on_commit, host, server_uuid=server_uuid)


def _count_build(
    outcome: str, *, posted_at: datetime | None = None, active_at: datetime | None = None
) -> None:
    """Once the transaction commits: a build ended ("active" or "error"); for ACTIVE, the time
    from the POST (the server's creation) to the transition."""

    def record() -> None:
        metrics.BUILDS.labels(outcome=outcome).inc()
        if posted_at is not None and active_at is not None:
            metrics.BUILD_SECONDS.observe(max(0.0, (active_at - posted_at).total_seconds()))

    transaction.on_commit(record)


def _from_epoch(seconds: float | None) -> datetime | None:
    """A host's timestamp (seconds since the epoch), as an aware datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds is not None else None


def build_server_failed(
    *,
    host: str,
    server_uuid: str,
    request_id: str,
    fault: dict[str, Any],
    alternates: list[dict[str, Any]],
    started_at: float | None = None,
) -> None:
    """Reschedule to the next alternate that still has room, or give up with a fault."""
    max_attempts = int(cc_settings.SCHEDULER["MAX_ATTEMPTS"])
    with transaction.atomic():
        server = (
            Server.objects.select_for_update()
            .filter(uuid=server_uuid, host=host, task_state=TaskState.SPAWNING)
            .first()
        )
        if server is None:
            return  # stale report
        release_allocations(consumer_uuid=server.uuid)
        failure = from_report(fault, default="Build failed")
        history.finish_event(
            server=server,
            request_id=request_id,
            event=BUILD_EVENT,
            ok=False,
            host=host,
            details=failure.message,
            traceback=failure.details,
            finish_action=False,
            started_at=_from_epoch(started_at),
        )
        remaining = list(alternates)
        spec = None
        while remaining and server.attempts < max_attempts:
            alternate = remaining.pop(0)
            spec = spec or request_spec_for([server])
            destination = Alternate.from_dict(alternate)
            if claim_on_alternate(spec, instance_uuid=str(server.uuid), alternate=destination):
                logger.info(
                    "rescheduling %s from %s to %s (attempt %d)",
                    server_uuid,
                    host,
                    alternate["host"],
                    server.attempts + 1,
                )
                spawning = {"host": [host], "task_state": [TaskState.SPAWNING]}
                if _assign_host(
                    server, destination, attempts=server.attempts + 1, expected=spawning
                ) and _allocate_networks(server, alternate["host"], request_id):
                    _send_build(alternate["host"], _build_payload(server, request_id, remaining))
                return
        # Shown to the owner: no host name, the error's public message only.
        message = (
            f"No valid host was found. Exceeded max scheduling attempts {max_attempts} "
            f"for instance {server_uuid}. Last exception: {failure.message}"
            if alternates or server.attempts >= max_attempts
            else f"Build of instance {server_uuid} aborted: {failure.message}"
        )
        fail_build(
            server=server,
            request_id=request_id,
            message=message,
            event=BUILD_EVENT,
            details=failure.details,
            host=host,
        )


# --- simple actions -----------------------------------------------------------------------------
def run_server_action(*, server_uuid: str, action: str, request_id: str) -> None:
    spec = SIMPLE_ACTIONS[action]
    server = Server.objects.filter(uuid=server_uuid, task_state=spec.task_state).first()
    if server is None:
        return  # finished already, or superseded (deleted)
    event = f"compute_{action}_instance"
    if not server.host:
        server_action_done(
            host="",
            server_uuid=server_uuid,
            action=action,
            request_id=request_id,
            ok=False,
            power_state=server.power_state,
            fault={"message": "Instance has no host", "details": ""},
        )
        return
    history.start_event(server=server, request_id=request_id, event=event, host=server.host)
    payload: to_compute.ServerActionPayload = {
        "server_uuid": server_uuid,
        "action": action,
        "request_id": request_id,
        "hard": action == "reboot_hard",
    }
    to_compute.server_action(
        enqueue_on_commit, server.host, operation=spec.compute_op, payload=payload
    )


def server_action_done(
    *,
    host: str,
    server_uuid: str,
    action: str,
    request_id: str,
    ok: bool,
    power_state: int,
    fault: dict[str, Any] | None = None,
    console: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Finish an action a host carried out: the final state, or the reverted one and a fault."""
    with transaction.atomic():
        server = Server.objects.filter(uuid=server_uuid).first()
        if server is None:
            return
        if action == "rebuild":
            expected = [TaskState.REBUILD_SPAWNING]
            rebuilt = VmState.STOPPED if server.vm_state == VmState.STOPPED else VmState.ACTIVE
            fields = {
                "power_state": power_state,
                "vm_state": rebuilt if ok else VmState.ERROR,
                "console": console,
            }
        elif action == "createImage":
            _finish_snapshot(server, ok=ok, image_id=(extra or {}).get("image_id"))
            fields: dict[str, Any] = {"power_state": power_state}
            expected = [
                TaskState.IMAGE_SNAPSHOT,
                TaskState.IMAGE_PENDING_UPLOAD,
                TaskState.IMAGE_UPLOADING,
            ]
        else:
            spec = SIMPLE_ACTIONS[action]
            expected = [spec.task_state]
            fields = {"power_state": power_state}
            if ok:
                fields["vm_state"] = spec.done_vm_state
            elif spec.failed_vm_state:
                fields["vm_state"] = spec.failed_vm_state
            if console is not None:
                fields["console"] = console
        updated = states.transition(
            server,
            action=f"{action} done",
            expected={"task_state": expected},
            quiet=True,
            task_state=None,
            **fields,
        )
        if not updated:
            return
        event = (
            "compute_snapshot_instance" if action == "createImage" else f"compute_{action}_instance"
        )
        failure = from_report(fault, default=f"{action} failed") if fault else None
        if not ok and failure is not None:
            history.add_fault(
                server=server, message=failure.message, details=failure.details, host=host
            )
        history.finish_event(
            server=server,
            request_id=request_id,
            event=event,
            ok=ok,
            host=host or None,
            details=failure.message if failure else None,
            traceback=failure.details if failure else None,
        )
    logger.info("%s of server %s on %s: %s", action, server_uuid, host, "done" if ok else "failed")


def _finish_snapshot(server: Server, *, ok: bool, image_id: str | None) -> None:
    if image_id is None:
        return

    if not ok:
        mark_snapshot_failed(image_id=image_id)


# --- delete -------------------------------------------------------------------------------------
def delete_server(*, server_uuid: str, request_id: str) -> None:
    server = Server.objects.filter(uuid=server_uuid, task_state=TaskState.DELETING).first()
    if server is None:
        return
    if not server_services.host_is_up(server.host):
        with transaction.atomic():
            server_services.finish_local_delete(server=server, request_id=request_id)
            revoke_server_tokens(server_uuid=server_uuid)
        return
    history.start_event(
        server=server, request_id=request_id, event="compute_terminate_instance", host=server.host
    )
    to_compute.delete_server(
        enqueue_on_commit,
        server.host,
        payload={
            "server_uuid": server_uuid,
            "request_id": request_id,
            "port_ids": networking.port_ids(server_uuid),
        },
    )


def server_deleted(*, host: str, server_uuid: str, request_id: str) -> None:
    with transaction.atomic():
        server = Server.objects.select_for_update().filter(uuid=server_uuid).first()
        if server is None:
            return
        history.finish_event(
            server=server,
            request_id=request_id,
            event="compute_terminate_instance",
            ok=True,
            host=host,
            finish_action=False,
        )
        server_services.finish_local_delete(server=server, request_id=request_id)
        revoke_server_tokens(server_uuid=server_uuid)
    logger.info("server %s deleted from %s", server_uuid, host)


def server_delete_failed(
    *, host: str, server_uuid: str, request_id: str, fault: dict[str, Any]
) -> None:
    with transaction.atomic():
        server = Server.objects.filter(uuid=server_uuid, task_state=TaskState.DELETING).first()
        if server is None:
            return
        # Unchanged since read: a delete asked again meanwhile (sent to the host again) wins.
        if not states.transition(
            server,
            action="delete failed",
            expected={"task_state": [TaskState.DELETING], "updated_at": [server.updated_at]},
            quiet=True,
            vm_state=VmState.ERROR,
            task_state=None,
        ):
            return
        failure = from_report(fault, default="delete failed")
        history.add_fault(
            server=server, message=failure.message, details=failure.details, host=host
        )
        history.finish_event(
            server=server,
            request_id=request_id,
            event="compute_terminate_instance",
            ok=False,
            host=host,
            details=failure.message,
            traceback=failure.details,
        )


# --- host life and reconciliation ---------------------------------------------------------------
def compute_started(
    *,
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    interrupted_builds: list[str] | None = None,
    instance_files: list[str] | None = None,
) -> None:
    """A compute host (re)started: record it, then reconcile what the database says is there
    with what the hypervisor has.

    A build the host reports as interrupted fails (and frees its claim); one the host never
    started is left alone: its message is still queued and runs now (or the build timeout
    ends it)."""
    interrupted = set(interrupted_builds or [])
    update_compute_node(host=host, facts=facts)
    if facts.get("tunnel_ip"):
        networks.record_tunnel_endpoint(host, facts["tunnel_ip"])
    # After a reboot nothing of the guests' networks is left in the host's kernel: send it
    # the whole of them (its agent rebuilds what is missing, removes what is stale).
    networking.sync_host(host)
    for server in Server.objects.filter(host=host):
        uuid = str(server.uuid)
        if server.task_state == TaskState.DELETING:
            to_compute.delete_server(
                enqueue_on_commit,
                host,
                payload={
                    "server_uuid": uuid,
                    "request_id": "req-reconcile",
                    "port_ids": networking.port_ids(uuid),
                },
            )
        elif server.task_state in (TaskState.SPAWNING, TaskState.SCHEDULING):
            if power_states.get(uuid) == PowerState.RUNNING:
                build_server_done(
                    host=host,
                    server_uuid=uuid,
                    request_id=_last_request_id(server),
                    power_state=PowerState.RUNNING,
                )
            elif uuid in interrupted:
                build_server_failed(
                    host=host,
                    server_uuid=uuid,
                    request_id=_last_request_id(server),
                    fault={
                        "message": "The compute host restarted while the instance was building",
                        "details": "",
                    },
                    alternates=[],
                )
        elif server.task_state in TRANSITIONAL_POWER_TASKS:
            _recover_power_task(server, power_states.get(uuid, PowerState.NOSTATE), host)
    known = set(
        Server.with_deleted.filter(uuid__in=list(power_states)).values_list("uuid", flat=True)
    )
    for uuid in set(power_states) - {str(u) for u in known}:
        logger.warning("domain %s on %s is unknown to computecloud; left untouched", uuid, host)
    sync_power_states(host=host, power_states=power_states)
    reclaim_deleted(host=host, present={*power_states, *(instance_files or [])})


def _last_request_id(server: Server) -> str:
    action = server.actions.order_by("-start_time").first()
    return action.request_id if action else "req-reconcile"


def _recover_power_task(server: Server, power_state: int, host: str) -> None:
    vm_state = {
        PowerState.RUNNING: VmState.ACTIVE,
        PowerState.PAUSED: VmState.PAUSED,
        PowerState.SUSPENDED: VmState.SUSPENDED,
    }.get(PowerState(power_state), VmState.STOPPED)
    interrupted = server.task_state
    if not states.transition(
        server,
        action="recover power task",
        expected={"host": [host], "task_state": [interrupted]},
        quiet=True,
        task_state=None,
        vm_state=vm_state,
        power_state=power_state,
    ):
        return
    history.add_fault(
        server=server,
        code=500,
        host=host,
        message=f"The compute host restarted during task {interrupted}; state recovered",
    )
    logger.warning(
        "server %s: task %s interrupted by restart of %s; now %s",
        server.uuid,
        interrupted,
        host,
        vm_state,
    )


def compute_heartbeat(
    *,
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    observed_at: float | None = None,
    instance_files: list[str] | None = None,
) -> None:
    update_compute_node(host=host, facts=facts)
    sync_power_states(host=host, power_states=power_states, observed_at=observed_at)
    reclaim_deleted(host=host, present={*power_states, *(instance_files or [])})


def reclaim_deleted(*, host: str, present: set[str]) -> list[str]:
    """Remove from `host` the guests and files of instances deleted in the database: deleted
    while the host was down, or a delete that failed there or reached it only in part.
    Only deletions older than RECLAIM_GRACE count, so a delete still on its way to the host is
    not raced. Instances the database never knew are left alone (reported at start)."""
    if not present:
        return []
    cutoff = timezone.now() - timedelta(seconds=int(cc_settings.RECLAIM_GRACE))
    reclaimed = [
        str(uuid)
        for uuid in Server.with_deleted.filter(
            uuid__in=list(present), deleted=True, deleted_at__lt=cutoff
        ).values_list("uuid", flat=True)
    ]
    for uuid in reclaimed:
        logger.warning("server %s is deleted but still on %s; removing it there", uuid, host)
        to_compute.destroy_orphan(enqueue_on_commit, host, server_uuid=uuid)
    return reclaimed


def sync_power_states(
    *, host: str, power_states: dict[str, int], observed_at: float | None = None
) -> None:
    """Make idle instances' power state (and a stopped-outside vm_state) match the host.

    The report is a snapshot taken at `observed_at` (host clock) and read later: instances
    changed since then, and instances the snapshot does not list (a build that finished
    after it), are left alone, so a late report never undoes newer news.
    """
    observed = _from_epoch(observed_at)
    idle = (
        Server.objects.filter(host=host, task_state__isnull=True, uuid__in=list(power_states))
        .exclude(vm_state__in=[VmState.BUILDING, VmState.ERROR])
        .only("pk", "uuid", "vm_state", "power_state")
    )
    if observed is not None:
        idle = idle.filter(updated_at__lt=observed)
    for server in idle:
        power = power_states[str(server.uuid)]
        fields: dict[str, Any] = {}
        if power != server.power_state:
            fields["power_state"] = power
        if server.vm_state == VmState.ACTIVE and power in (
            PowerState.SHUTDOWN,
            PowerState.CRASHED,
        ):
            fields["vm_state"] = VmState.STOPPED
            logger.warning(
                "server %s on %s stopped outside computecloud (power state %s)",
                server.uuid,
                host,
                power,
            )
        if fields:
            states.transition(
                server,
                action="sync power state",
                expected={"host": [host], "task_state": [None], "vm_state": [server.vm_state]},
                unchanged_since=observed,
                quiet=True,
                **fields,
            )


# --- periodic reconcilers -----------------------------------------------------------------------
def expire_stuck_builds() -> int:
    """Servers building longer than BUILD_TIMEOUT go to ERROR and free their claims."""
    timeout = int(cc_settings.BUILD_TIMEOUT)
    if timeout <= 0:
        return 0
    cutoff = timezone.now() - timedelta(seconds=timeout)
    stuck = Server.objects.filter(vm_state=VmState.BUILDING, created_at__lt=cutoff).exclude(
        task_state=TaskState.DELETING
    )
    count = 0
    for server in stuck:
        with transaction.atomic():
            fail_build(
                server=server,
                request_id=_last_request_id(server),
                message=f"Build of instance {server.uuid} aborted: it did not finish within "
                f"{timeout} seconds",
                event=BUILD_EVENT,
                host=server.host,
            )
        count += 1
    return count


def confirm_expired_resizes() -> int:
    """Confirm resizes left unconfirmed longer than RESIZE_CONFIRM_WINDOW (0 disables), through
    the same service a user's confirmResize goes through, as the system."""
    window = int(cc_settings.RESIZE_CONFIRM_WINDOW)
    if window <= 0:
        return 0
    cutoff = timezone.now() - timedelta(seconds=window)
    due = Migration.objects.filter(
        status=Migration.Status.FINISHED,
        updated_at__lt=cutoff,
        server__vm_state=VmState.RESIZED,
        server__task_state__isnull=True,
        server__deleted=False,
    ).select_related("server")
    confirmed = 0
    for migration in due:
        server = migration.server
        system = RequestContext(
            user_id=migration.user_id or server.user_id,
            project_id=server.project_id,
            roles=frozenset({RoleName.ADMIN}),
        )
        try:
            server_services.confirm_resize(
                context=system, server=server, request_id=f"req-auto-confirm-{migration.uuid}"
            )
        except Conflict as exc:  # acted on meanwhile: nothing to do
            logger.info("automatic confirmation of %s skipped: %s", server.uuid, exc)
            continue
        logger.info("resize of %s confirmed automatically after %d s", server.uuid, window)
        confirmed += 1
    return confirmed


# --- rebuild ------------------------------------------------------------------------------------
REBUILD_EVENT = "compute_rebuild_instance"


def rebuild_server(*, server_uuid: str, request_id: str) -> None:
    """Carry a rebuild to the server's host: recreate its disk from the new image."""
    with transaction.atomic():
        if not states.transition(
            server_uuid,
            action="rebuild",
            expected={"task_state": [TaskState.REBUILDING]},
            quiet=True,
            task_state=TaskState.REBUILD_SPAWNING,
        ):
            return
        server = Server.objects.get(uuid=server_uuid)
        if not server.host:
            # The UPDATE above holds the row's lock until commit: no delete comes in between.
            states.transition(
                server,
                action="rebuild",
                expected={"task_state": [TaskState.REBUILD_SPAWNING]},
                quiet=True,
                task_state=None,
                vm_state=VmState.ERROR,
            )
            history.add_fault(server=server, message="Instance has no host to rebuild on")
            history.finish_event(
                server=server, request_id=request_id, event=REBUILD_EVENT, ok=False
            )
            return
        history.start_event(
            server=server, request_id=request_id, event=REBUILD_EVENT, host=server.host
        )
        payload: to_compute.RebuildPayload = {
            "instance": instance_payload(server),
            "image": image_payload(server),
            "request_id": request_id,
            # A stopped server is rebuilt stopped, as in Nova.
            "power_on": server.vm_state != VmState.STOPPED,
        }
        to_compute.rebuild_server(enqueue_on_commit, server.host, payload=payload)

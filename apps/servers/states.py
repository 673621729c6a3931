"""The instance state machine, as data (Nova's vm_states, task_states, power_state).

- ``vm_state``: the stable state the instance rests in (active, stopped, error, ...).
- ``task_state``: the operation in progress, or None when idle. Every action sets it with
  one conditional UPDATE (`transition`), so two concurrent actions give one winner and one 409.
- ``power_state``: what the hypervisor last reported; only the conductor writes it.
- The API ``status`` (ACTIVE, BUILD, REBOOT, ...) is derived from the pair by `api_status`.

See docs/states.md for the diagram.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from computecloud.exceptions import Conflict


class VmState(models.TextChoices):
    BUILDING = "building"
    ACTIVE = "active"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    RESCUED = "rescued"
    RESIZED = "resized"
    SOFT_DELETED = "soft-delete"
    DELETED = "deleted"
    ERROR = "error"
    SHELVED = "shelved"
    SHELVED_OFFLOADED = "shelved_offloaded"


class TaskState(models.TextChoices):
    SCHEDULING = "scheduling"
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    NETWORKING = "networking"
    SPAWNING = "spawning"
    IMAGE_SNAPSHOT = "image_snapshot"
    IMAGE_SNAPSHOT_PENDING = "image_snapshot_pending"
    IMAGE_PENDING_UPLOAD = "image_pending_upload"
    IMAGE_UPLOADING = "image_uploading"
    UPDATING_PASSWORD = "updating_password"  # noqa: S105 - a task name
    RESIZE_PREP = "resize_prep"
    RESIZE_MIGRATING = "resize_migrating"
    RESIZE_MIGRATED = "resize_migrated"
    RESIZE_FINISH = "resize_finish"
    RESIZE_REVERTING = "resize_reverting"
    RESIZE_CONFIRMING = "resize_confirming"
    REBOOTING = "rebooting"
    REBOOT_PENDING = "reboot_pending"
    REBOOT_STARTED = "reboot_started"
    REBOOTING_HARD = "rebooting_hard"
    REBOOT_PENDING_HARD = "reboot_pending_hard"
    REBOOT_STARTED_HARD = "reboot_started_hard"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    REBUILDING = "rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
    REBUILD_SPAWNING = "rebuild_spawning"
    MIGRATING = "migrating"
    DELETING = "deleting"


class PowerState(models.IntegerChoices):
    NOSTATE = 0, "NOSTATE"
    RUNNING = 1, "Running"
    PAUSED = 3, "Paused"
    SHUTDOWN = 4, "Shutdown"
    CRASHED = 6, "Crashed"
    SUSPENDED = 7, "Suspended"


# --- what each action is allowed from ----------------------------------------------------------
# (vm_states, task_states) pairs; None in task states means "idle".
IDLE: frozenset[str | None] = frozenset({None})

ALLOW_SOFT_REBOOT = (frozenset({VmState.ACTIVE, VmState.STOPPED}), IDLE)
ALLOW_HARD_REBOOT = (
    frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR}),
    frozenset(
        {
            None,
            TaskState.REBOOTING,
            TaskState.REBOOT_PENDING,
            TaskState.REBOOT_STARTED,
            TaskState.REBOOTING_HARD,
            TaskState.REBOOT_PENDING_HARD,
            TaskState.REBOOT_STARTED_HARD,
        }
    ),
)
ALLOW_STOP = (frozenset({VmState.ACTIVE, VmState.RESCUED, VmState.ERROR}), IDLE)
ALLOW_START = (frozenset({VmState.STOPPED}), IDLE)
ALLOW_PAUSE = (frozenset({VmState.ACTIVE}), IDLE)
ALLOW_UNPAUSE = (frozenset({VmState.PAUSED}), IDLE)
ALLOW_SUSPEND = (frozenset({VmState.ACTIVE}), IDLE)
ALLOW_RESUME = (frozenset({VmState.SUSPENDED}), IDLE)
ALLOW_REBUILD = (frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.ERROR}), IDLE)
ALLOW_RESIZE = (frozenset({VmState.ACTIVE, VmState.STOPPED}), IDLE)
ALLOW_CONFIRM_RESIZE = (frozenset({VmState.RESIZED}), IDLE)
ALLOW_REVERT_RESIZE = (frozenset({VmState.RESIZED}), IDLE)
ALLOW_SNAPSHOT = (
    frozenset({VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED}),
    IDLE,
)
ALLOW_CONSOLE = (frozenset({VmState.ACTIVE}), IDLE)


# --- the API status ----------------------------------------------------------------------------
_STATUS_BY_VM_STATE = {
    VmState.BUILDING: "BUILD",
    VmState.ACTIVE: "ACTIVE",
    VmState.PAUSED: "PAUSED",
    VmState.SUSPENDED: "SUSPENDED",
    VmState.STOPPED: "SHUTOFF",
    VmState.RESCUED: "RESCUE",
    VmState.RESIZED: "VERIFY_RESIZE",
    VmState.SOFT_DELETED: "SOFT_DELETED",
    VmState.DELETED: "DELETED",
    VmState.ERROR: "ERROR",
    VmState.SHELVED: "SHELVED",
    VmState.SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
}
_STATUS_BY_TASK_STATE = {
    TaskState.REBOOTING: "REBOOT",
    TaskState.REBOOT_PENDING: "REBOOT",
    TaskState.REBOOT_STARTED: "REBOOT",
    TaskState.REBOOTING_HARD: "HARD_REBOOT",
    TaskState.REBOOT_PENDING_HARD: "HARD_REBOOT",
    TaskState.REBOOT_STARTED_HARD: "HARD_REBOOT",
    TaskState.REBUILDING: "REBUILD",
    TaskState.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
    TaskState.REBUILD_SPAWNING: "REBUILD",
    TaskState.RESIZE_PREP: "RESIZE",
    TaskState.RESIZE_MIGRATING: "RESIZE",
    TaskState.RESIZE_MIGRATED: "RESIZE",
    TaskState.RESIZE_FINISH: "RESIZE",
    TaskState.RESIZE_REVERTING: "REVERT_RESIZE",
    TaskState.MIGRATING: "MIGRATING",
}


def api_status(vm_state: str, task_state: str | None) -> str:
    """Nova's status for the (vm_state, task_state) pair."""
    if vm_state == VmState.DELETED:
        return "DELETED"
    if task_state == TaskState.DELETING and vm_state != VmState.ERROR:
        # Nova keeps the vm_state's status while deleting; so do we.
        return _STATUS_BY_VM_STATE.get(VmState(vm_state), "UNKNOWN")
    if vm_state in (VmState.ACTIVE, VmState.STOPPED, VmState.RESIZED) and task_state:
        by_task = _STATUS_BY_TASK_STATE.get(TaskState(task_state))
        if by_task:
            return by_task
    return _STATUS_BY_VM_STATE.get(VmState(vm_state), "UNKNOWN")


# API status → the vm_states a `status` list filter matches.
VM_STATES_BY_STATUS: dict[str, list[str]] = {}
for _vm, _status in _STATUS_BY_VM_STATE.items():
    VM_STATES_BY_STATUS.setdefault(_status, []).append(_vm.value)


# --- the compare-and-set helper ----------------------------------------------------------------
class ServerInvalidState(Conflict):
    msg_fmt = "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"


def transition(
    server: Any,
    *,
    action: str,
    allowed: tuple[Iterable[str], Iterable[str | None]] | None = None,
    expected_task_states: Iterable[str | None] | None = None,
    **changes: Any,
) -> None:
    """Commit a state change as one conditional UPDATE, or raise `ServerInvalidState` (409).

    `allowed` is an ``ALLOW_*`` pair: the update only applies while the row's vm_state and
    task_state are still in it, which is what makes concurrent actions safe. On success the
    in-memory `server` is updated too.
    """
    from apps.servers.models import Server  # the model imports this module

    query = Server.objects.filter(pk=server.pk)
    vm_states: Iterable[str] | None = None
    task_states: Iterable[str | None] | None = expected_task_states
    if allowed is not None:
        vm_states, task_states = allowed
        query = query.filter(vm_state__in=list(vm_states))
    if task_states is not None:
        task_states = list(task_states)
        named = [t for t in task_states if t is not None]
        cond = models.Q(task_state__in=named)
        if None in task_states:
            cond |= models.Q(task_state__isnull=True)
        query = query.filter(cond)
    changes["updated_at"] = timezone.now()
    if query.update(**changes) != 1:
        current = Server.objects.filter(pk=server.pk).values("vm_state", "task_state").first()
        if current is None:
            from apps.servers.exceptions import ServerNotFound

            raise ServerNotFound(uuid=server.uuid)
        if vm_states is not None and current["vm_state"] not in set(vm_states):
            attr, state = "vm_state", current["vm_state"]
        else:
            attr, state = "task_state", current["task_state"]
        raise ServerInvalidState(action=action, uuid=server.uuid, attr=attr, state=state)
    for key, value in changes.items():
        setattr(server, key, value)

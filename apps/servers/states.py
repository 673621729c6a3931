"""The instance state machine, as data (Nova's vm_states, task_states, power_state).

- ``vm_state``: the stable state the instance rests in (active, stopped, error, ...).
- ``task_state``: the operation in progress, or None when idle. Every action sets it with
  one conditional UPDATE (`transition`), so two concurrent actions give one winner and one 409;
  the conductor moves it on through the same function, so a delete in between wins.
- ``power_state``: what the hypervisor last reported; only the conductor writes it.
- The API ``status`` (ACTIVE, BUILD, REBOOT, ...) is derived from the pair by `api_status`.

See docs/states.md for the diagram.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from apps.servers.choices import TaskState, VmState
from apps.servers.exceptions import ServerNotFound
from apps.servers.models import Server  # the model imports this module
from computecloud.exceptions import Conflict

logger = logging.getLogger(__name__)


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
ALLOW_INTERFACE = (frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.STOPPED}), IDLE)
# Nova's: a volume attaches to and detaches from a server at rest in these states.
ALLOW_VOLUME = (
    frozenset(
        {VmState.ACTIVE, VmState.PAUSED, VmState.STOPPED, VmState.RESIZED, VmState.SOFT_DELETED}
    ),
    IDLE,
)


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


# --- the one writer of state columns ------------------------------------------------------------
# vm_state, task_state and host (and node, power_state when they move with them) change only
# through `transition`, for the API services and the conductor alike; a check in the test suite
# (tests/conductor/test_single_writer.py) fails on any other write of them.
STATE_COLUMNS = frozenset({"vm_state", "task_state", "host"})

# The task states a server may have while it builds (a delete, `deleting`, is not one of them).
BUILD_TASK_STATES: frozenset[str | None] = frozenset(
    {
        None,
        TaskState.SCHEDULING,
        TaskState.BLOCK_DEVICE_MAPPING,
        TaskState.NETWORKING,
        TaskState.SPAWNING,
    }
)


class ServerInvalidState(Conflict):
    msg_fmt = "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"


def transition(
    server: Any,
    *,
    action: str,
    allowed: tuple[Iterable[str], Iterable[str | None]] | None = None,
    expected: Mapping[str, Iterable[Any]] | None = None,
    unchanged_since: datetime | None = None,
    quiet: bool = False,
    **changes: Any,
) -> bool:
    """Commit a server's state change as one conditional UPDATE (compare and set).

    `server` is a Server (updated in memory too when the change applies) or a server's uuid.
    The UPDATE applies only while the row is still what the caller expects, checked in its
    WHERE clause, never after a read: not deleted; vm_state and task_state in `allowed` (an
    ``ALLOW_*`` pair); every column of `expected` in its values (None among them means NULL);
    and, with `unchanged_since`, not updated since then. That is what makes two concurrent
    actions give one winner, and a delete that lands between a conductor step's read and its
    write win: the step's expected task state is gone, so its write does nothing.

    Returns True when it applied. Otherwise the API's callers get `ServerInvalidState` (409) or
    `ServerNotFound` (404); with `quiet` (the conductor, whose steps answer nobody) it logs
    and returns False.
    """
    is_row = hasattr(server, "pk")
    # The live manager: a deleted row is never written again.
    query = Server.objects.filter(**({"pk": server.pk} if is_row else {"uuid": server}))
    conditions: dict[str, list[Any]] = {}
    if allowed is not None:
        vm_states, task_states = allowed
        conditions["vm_state"] = list(vm_states)
        conditions["task_state"] = list(task_states)
    for column, values in (expected or {}).items():
        conditions[column] = list(values)
    for column, values in conditions.items():
        query = query.filter(_one_of(column, values))
    if unchanged_since is not None:
        query = query.filter(updated_at__lt=unchanged_since)
    changes["updated_at"] = timezone.now()
    if query.update(**changes) == 1:
        if is_row:
            for key, value in changes.items():
                setattr(server, key, value)
        return True
    uuid = server.uuid if is_row else server
    current = (
        Server.with_deleted.filter(uuid=uuid)
        .values("vm_state", "task_state", "host", "deleted")
        .first()
    )
    if quiet:
        logger.info(
            "server %s: %s skipped, the server is no longer as expected (%s); now %s",
            uuid,
            action,
            conditions,
            current,
        )
        return False
    if current is None or current["deleted"]:
        raise ServerNotFound(uuid=uuid)
    mismatched = [
        c
        for c in ("vm_state", "task_state", "host")
        if c in conditions and current[c] not in conditions[c]
    ]
    attr = (mismatched or ["task_state"])[0]
    raise ServerInvalidState(action=action, uuid=uuid, attr=attr, state=current[attr])


def _one_of(column: str, values: list[Any]) -> models.Q:
    """``column IN values``, with None meaning NULL."""
    named = [v for v in values if v is not None]
    condition = models.Q(**{f"{column}__in": named})
    if None in values:
        condition |= models.Q(**{f"{column}__isnull": True})
    return condition

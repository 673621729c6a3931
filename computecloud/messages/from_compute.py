"""Messages from a compute host: outcomes and host life to the conductor, inventory to
placement.

The manager never writes instance state: it reports here what happened, and the conductor
(apps/conductor/tasks.py) writes it, checking the state it expects, so a late or repeated
report changes nothing. Inventory goes to placement on the scheduler's queue
(apps/placement/tasks.py). Every message names the reporting `host`. A compute worker has no
database and so no transaction to wait for: it publishes at once (`ComputeManager.publish`).

Fields a message may lack are ``NotRequired``: older hosts did not send them, and the
conductor's tasks default them.
"""

from typing import Any, NotRequired, TypedDict

from computecloud.messages import Send
from computecloud.queues import CONDUCTOR_QUEUE, SCHEDULER_QUEUE
from computecloud.wire import AlternatePayload, StoragePoolPayload

COMPUTE_STARTED = "conductor.compute_started"
COMPUTE_HEARTBEAT = "conductor.compute_heartbeat"
BUILD_SERVER_DONE = "conductor.build_server_done"
BUILD_SERVER_FAILED = "conductor.build_server_failed"
SERVER_ACTION_DONE = "conductor.server_action_done"
SERVER_DELETED = "conductor.server_deleted"
SERVER_DELETE_FAILED = "conductor.server_delete_failed"
RESIZE_MIGRATED = "conductor.resize_migrated"
RESIZE_FINISHED = "conductor.resize_finished"
RESIZE_CONFIRMED = "conductor.resize_confirmed"
RESIZE_REVERTED_ON_DEST = "conductor.resize_reverted_on_dest"
RESIZE_REVERTED = "conductor.resize_reverted"
INTERFACE_ATTACHED = "conductor.interface_attached"
INTERFACE_DETACHED = "conductor.interface_detached"
VOLUME_DONE = "conductor.volume_done"
VOLUME_ATTACHED = "conductor.volume_attached"
VOLUME_DETACHED = "conductor.volume_detached"
UPDATE_INVENTORY = "scheduler.update_inventory"


class Fault(TypedDict):
    """What failed on the host: its message and traceback (apps/servers/faults.py decides
    what the owner sees)."""

    message: str
    details: str
    code: NotRequired[int]


class Console(TypedDict):
    """Where the guest's VNC server listens on the host."""

    host: str
    port: int


# --- host life --------------------------------------------------------------------------------


class ComputeStarted(TypedDict):
    host: str
    facts: dict[str, Any]  # workers.virt.driver.HostFacts.to_payload()
    power_states: dict[str, int]  # instance uuid → power state
    interrupted_builds: NotRequired[list[str] | None]
    instance_files: NotRequired[list[str] | None]  # instances with files on the host
    storage: NotRequired[StoragePoolPayload | None]  # None: the host keeps no volumes


class ComputeHeartbeat(TypedDict):
    host: str
    facts: dict[str, Any]
    power_states: dict[str, int]
    observed_at: NotRequired[float | None]  # host clock, before the states were read
    instance_files: NotRequired[list[str] | None]
    storage: NotRequired[StoragePoolPayload | None]


class UpdateInventory(TypedDict):
    compute_node_uuid: str
    host: str
    inventories: dict[str, dict[str, Any]]  # resource class → inventory record
    traits: list[str]


# --- outcomes (request_id is the one the host was sent; None if it was sent none) -------------


class BuildServerDone(TypedDict):
    host: str
    server_uuid: str
    request_id: str | None
    power_state: int
    console: NotRequired[Console | None]
    started_at: NotRequired[float | None]


class BuildServerFailed(TypedDict):
    host: str
    server_uuid: str
    request_id: str | None
    fault: Fault
    alternates: list[AlternatePayload]  # the build payload's, handed back
    started_at: NotRequired[float | None]


class ServerActionDone(TypedDict):
    host: str
    server_uuid: str
    action: str
    request_id: str | None
    ok: bool
    power_state: int
    fault: NotRequired[Fault | None]
    console: NotRequired[Console | None]
    extra: NotRequired[dict[str, Any] | None]  # a snapshot's image_id


class ServerDeleted(TypedDict):
    host: str
    server_uuid: str
    request_id: str | None


class ServerDeleteFailed(TypedDict):
    host: str
    server_uuid: str
    request_id: str | None
    fault: Fault


class ResizeMigrated(TypedDict):
    host: str
    server_uuid: str
    migration_uuid: str
    request_id: str | None
    ok: bool
    power_on: bool
    transfer_image_id: str
    fault: NotRequired[Fault | None]


class ResizeFinished(TypedDict):
    host: str
    server_uuid: str
    migration_uuid: str
    request_id: str | None
    ok: bool
    power_state: NotRequired[int]
    console: NotRequired[Console | None]
    fault: NotRequired[Fault | None]
    transfer_image_id: NotRequired[str | None]


class ResizeAnswered(TypedDict):
    """A source copy removed (confirm) or a destination copy removed (revert)."""

    host: str
    server_uuid: str
    migration_uuid: str
    request_id: str | None
    ok: NotRequired[bool]
    fault: NotRequired[Fault | None]


class ResizeReverted(TypedDict):
    host: str
    server_uuid: str
    migration_uuid: str
    request_id: str | None
    ok: bool
    power_state: NotRequired[int]
    console: NotRequired[Console | None]
    fault: NotRequired[Fault | None]


class InterfaceChanged(TypedDict):
    """A port was plugged into (attached) or unplugged from (detached) a guest, or not."""

    host: str
    server_uuid: str
    port_id: str
    request_id: str | None
    ok: bool
    fault: Fault | None


class VolumeDone(TypedDict):
    """A storage operation on the host's pool finished (`ok`) or failed: ``operation`` is
    "create", "delete", "extend", "snapshot" or "delete_snapshot"."""

    host: str
    operation: str
    volume_id: str
    snapshot_id: str | None
    request_id: str | None
    ok: bool
    fault: Fault | None


class VolumeChanged(TypedDict):
    """A volume was plugged into (attached) or unplugged from (detached) a guest, or not;
    `device` is the disk's target name in the domain (e.g. "vdb")."""

    host: str
    server_uuid: str
    volume_id: str
    attachment_id: str
    request_id: str | None
    ok: bool
    device: str | None
    fault: Fault | None


MESSAGES: dict[str, type] = {
    COMPUTE_STARTED: ComputeStarted,
    COMPUTE_HEARTBEAT: ComputeHeartbeat,
    UPDATE_INVENTORY: UpdateInventory,
    BUILD_SERVER_DONE: BuildServerDone,
    BUILD_SERVER_FAILED: BuildServerFailed,
    SERVER_ACTION_DONE: ServerActionDone,
    SERVER_DELETED: ServerDeleted,
    SERVER_DELETE_FAILED: ServerDeleteFailed,
    RESIZE_MIGRATED: ResizeMigrated,
    RESIZE_FINISHED: ResizeFinished,
    RESIZE_CONFIRMED: ResizeAnswered,
    RESIZE_REVERTED_ON_DEST: ResizeAnswered,
    RESIZE_REVERTED: ResizeReverted,
    INTERFACE_ATTACHED: InterfaceChanged,
    INTERFACE_DETACHED: InterfaceChanged,
    VOLUME_DONE: VolumeDone,
    VOLUME_ATTACHED: VolumeChanged,
    VOLUME_DETACHED: VolumeChanged,
}


# --- send functions ---------------------------------------------------------------------------


def compute_started(
    send: Send,
    *,
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    interrupted_builds: list[str],
    instance_files: list[str],
    storage: StoragePoolPayload | None = None,
) -> None:
    """The host (re)started: the conductor reconciles what it had with what the database says."""
    args: ComputeStarted = {
        "host": host,
        "facts": facts,
        "power_states": power_states,
        "interrupted_builds": interrupted_builds,
        "instance_files": instance_files,
        "storage": storage,
    }
    send(COMPUTE_STARTED, kwargs=args, queue=CONDUCTOR_QUEUE)


def compute_heartbeat(
    send: Send,
    *,
    host: str,
    facts: dict[str, Any],
    power_states: dict[str, int],
    observed_at: float,
    instance_files: list[str],
    storage: StoragePoolPayload | None = None,
) -> None:
    """Liveness, power states, what instances have files here and the host's volume pool."""
    args: ComputeHeartbeat = {
        "host": host,
        "facts": facts,
        "power_states": power_states,
        "observed_at": observed_at,
        "instance_files": instance_files,
        "storage": storage,
    }
    send(COMPUTE_HEARTBEAT, kwargs=args, queue=CONDUCTOR_QUEUE)


def update_inventory(
    send: Send,
    *,
    compute_node_uuid: str,
    host: str,
    inventories: dict[str, dict[str, Any]],
    traits: list[str],
) -> None:
    """The host's resource inventories, to the scheduler's queue."""
    args: UpdateInventory = {
        "compute_node_uuid": compute_node_uuid,
        "host": host,
        "inventories": inventories,
        "traits": traits,
    }
    send(UPDATE_INVENTORY, kwargs=args, queue=SCHEDULER_QUEUE)


def build_server_done(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    request_id: str | None,
    power_state: int,
    console: Console | None,
    started_at: float,
) -> None:
    args: BuildServerDone = {
        "host": host,
        "server_uuid": server_uuid,
        "request_id": request_id,
        "power_state": power_state,
        "console": console,
        "started_at": started_at,
    }
    send(BUILD_SERVER_DONE, kwargs=args, queue=CONDUCTOR_QUEUE)


def build_server_failed(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    request_id: str | None,
    fault: Fault,
    alternates: list[AlternatePayload],
    started_at: float,
) -> None:
    args: BuildServerFailed = {
        "host": host,
        "server_uuid": server_uuid,
        "request_id": request_id,
        "fault": fault,
        "alternates": alternates,
        "started_at": started_at,
    }
    send(BUILD_SERVER_FAILED, kwargs=args, queue=CONDUCTOR_QUEUE)


def server_action_done(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    action: str,
    request_id: str | None,
    ok: bool,
    power_state: int,
    fault: Fault | None = None,
    console: Console | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """A simple action, a rebuild or a snapshot finished (`ok`) or failed (`fault`)."""
    args: ServerActionDone = {
        "host": host,
        "server_uuid": server_uuid,
        "action": action,
        "request_id": request_id,
        "ok": ok,
        "power_state": power_state,
        "fault": fault,
        "console": console,
        "extra": extra,
    }
    send(SERVER_ACTION_DONE, kwargs=args, queue=CONDUCTOR_QUEUE)


def server_deleted(send: Send, *, host: str, server_uuid: str, request_id: str | None) -> None:
    args: ServerDeleted = {"host": host, "server_uuid": server_uuid, "request_id": request_id}
    send(SERVER_DELETED, kwargs=args, queue=CONDUCTOR_QUEUE)


def server_delete_failed(
    send: Send, *, host: str, server_uuid: str, request_id: str | None, fault: Fault
) -> None:
    args: ServerDeleteFailed = {
        "host": host,
        "server_uuid": server_uuid,
        "request_id": request_id,
        "fault": fault,
    }
    send(SERVER_DELETE_FAILED, kwargs=args, queue=CONDUCTOR_QUEUE)


def resize_migrated(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str | None,
    ok: bool,
    power_on: bool,
    transfer_image_id: str,
    fault: Fault | None = None,
) -> None:
    """The source host powered off and uploaded the disk (`ok`), or could not."""
    args: ResizeMigrated = {
        "host": host,
        "server_uuid": server_uuid,
        "migration_uuid": migration_uuid,
        "request_id": request_id,
        "ok": ok,
        "power_on": power_on,
        "transfer_image_id": transfer_image_id,
        "fault": fault,
    }
    send(RESIZE_MIGRATED, kwargs=args, queue=CONDUCTOR_QUEUE)


def resize_finished(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str | None,
    ok: bool,
    transfer_image_id: str | None,
    power_state: int = 0,
    console: Console | None = None,
    fault: Fault | None = None,
) -> None:
    """The destination host runs the resized instance (`ok`), or could not."""
    args: ResizeFinished = {
        "host": host,
        "server_uuid": server_uuid,
        "migration_uuid": migration_uuid,
        "request_id": request_id,
        "ok": ok,
        "power_state": power_state,
        "console": console,
        "fault": fault,
        "transfer_image_id": transfer_image_id,
    }
    send(RESIZE_FINISHED, kwargs=args, queue=CONDUCTOR_QUEUE)


def _answered(
    send: Send, task: str, host: str, server_uuid: str, migration_uuid: str, request_id: str | None
) -> None:
    args: ResizeAnswered = {
        "host": host,
        "server_uuid": server_uuid,
        "migration_uuid": migration_uuid,
        "request_id": request_id,
    }
    send(task, kwargs=args, queue=CONDUCTOR_QUEUE)


def resize_confirmed(
    send: Send, *, host: str, server_uuid: str, migration_uuid: str, request_id: str | None
) -> None:
    """The source copy of a confirmed resize is gone."""
    _answered(send, RESIZE_CONFIRMED, host, server_uuid, migration_uuid, request_id)


def resize_reverted_on_dest(
    send: Send, *, host: str, server_uuid: str, migration_uuid: str, request_id: str | None
) -> None:
    """The destination copy of a reverted resize is gone: the source can start again."""
    _answered(send, RESIZE_REVERTED_ON_DEST, host, server_uuid, migration_uuid, request_id)


def resize_reverted(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    migration_uuid: str,
    request_id: str | None,
    ok: bool,
    power_state: int = 0,
    console: Console | None = None,
    fault: Fault | None = None,
) -> None:
    """The source host runs the instance with its old flavor again (`ok`), or could not."""
    args: ResizeReverted = {
        "host": host,
        "server_uuid": server_uuid,
        "migration_uuid": migration_uuid,
        "request_id": request_id,
        "ok": ok,
        "power_state": power_state,
        "console": console,
        "fault": fault,
    }
    send(RESIZE_REVERTED, kwargs=args, queue=CONDUCTOR_QUEUE)


def interface_attached(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    port_id: str,
    request_id: str | None,
    ok: bool,
    fault: Fault | None = None,
) -> None:
    args: InterfaceChanged = {
        "host": host,
        "server_uuid": server_uuid,
        "port_id": port_id,
        "request_id": request_id,
        "ok": ok,
        "fault": fault,
    }
    send(INTERFACE_ATTACHED, kwargs=args, queue=CONDUCTOR_QUEUE)


def interface_detached(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    port_id: str,
    request_id: str | None,
    ok: bool,
    fault: Fault | None = None,
) -> None:
    args: InterfaceChanged = {
        "host": host,
        "server_uuid": server_uuid,
        "port_id": port_id,
        "request_id": request_id,
        "ok": ok,
        "fault": fault,
    }
    send(INTERFACE_DETACHED, kwargs=args, queue=CONDUCTOR_QUEUE)


def volume_done(
    send: Send,
    *,
    host: str,
    operation: str,
    volume_id: str,
    snapshot_id: str | None,
    request_id: str | None,
    ok: bool,
    fault: Fault | None = None,
) -> None:
    args: VolumeDone = {
        "host": host,
        "operation": operation,
        "volume_id": volume_id,
        "snapshot_id": snapshot_id,
        "request_id": request_id,
        "ok": ok,
        "fault": fault,
    }
    send(VOLUME_DONE, kwargs=args, queue=CONDUCTOR_QUEUE)


def _volume_changed(
    send: Send,
    task: str,
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None = None,
    fault: Fault | None = None,
) -> None:
    args: VolumeChanged = {
        "host": host,
        "server_uuid": server_uuid,
        "volume_id": volume_id,
        "attachment_id": attachment_id,
        "request_id": request_id,
        "ok": ok,
        "device": device,
        "fault": fault,
    }
    send(task, kwargs=args, queue=CONDUCTOR_QUEUE)


def volume_attached(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None = None,
    fault: Fault | None = None,
) -> None:
    """The guest holds the volume (`ok`, on `device`), or the attach failed (`fault`)."""
    _volume_changed(
        send,
        VOLUME_ATTACHED,
        host=host,
        server_uuid=server_uuid,
        volume_id=volume_id,
        attachment_id=attachment_id,
        request_id=request_id,
        ok=ok,
        device=device,
        fault=fault,
    )


def volume_detached(
    send: Send,
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None = None,
    fault: Fault | None = None,
) -> None:
    """The domain no longer lists the volume (`ok`), or the guest did not let go (`fault`)."""
    _volume_changed(
        send,
        VOLUME_DETACHED,
        host=host,
        server_uuid=server_uuid,
        volume_id=volume_id,
        attachment_id=attachment_id,
        request_id=request_id,
        ok=ok,
        device=device,
        fault=fault,
    )

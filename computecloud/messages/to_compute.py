"""Messages to one compute host, from the conductor (and one call from the API).

Each goes to the queue ``compute.<host>`` (`computecloud.queues.compute_queue`), consumed only
by that host's worker; the tasks are in workers/compute/tasks.py. A payload carries all the
host needs (it has no database): the instance and image as `computecloud.wire` defines them,
signed URLs for what it must fetch or upload. The conductor sends them with
`computecloud.tasking.enqueue_on_commit`, after the state change that asked for them commits.

The one call: `get_console_output` waits for the host's answer, at most
`CONSOLE_OUTPUT_TIMEOUT` seconds, and raises beyond that (the API answers 409): a host that
is slow or gone never holds a request longer. Every other message is fire-and-forget; the
host reports the outcome in a `from_compute` message.
"""

from collections.abc import Mapping
from typing import Any, Generic, NotRequired, TypedDict, TypeVar

from computecloud.messages import Call, Send
from computecloud.queues import compute_queue
from computecloud.wire import (
    BlockDevicePayload,
    BuildPayload,
    HostNetworksPayload,
    ImagePayload,
    InstancePayload,
    VifPayload,
    VolumeCreatePayload,
)

BUILD_SERVER = "compute.build_server"
REBUILD_SERVER = "compute.rebuild_server"
DELETE_SERVER = "compute.delete_server"
DESTROY_ORPHAN = "compute.destroy_orphan"
GET_CONSOLE_OUTPUT = "compute.get_console_output"
SNAPSHOT_SERVER = "compute.snapshot_server"
RESIZE_SERVER = "compute.resize_server"
FINISH_RESIZE = "compute.finish_resize"
CONFIRM_RESIZE = "compute.confirm_resize"
REVERT_RESIZE = "compute.revert_resize"
FINISH_REVERT_RESIZE = "compute.finish_revert_resize"
SYNC_NETWORKS = "compute.sync_networks"
# Volumes: the host's storage agent keeps them in its pool; the hypervisor plugs them.
CREATE_VOLUME = "compute.create_volume"
DELETE_VOLUME = "compute.delete_volume"
EXTEND_VOLUME = "compute.extend_volume"
CREATE_VOLUME_SNAPSHOT = "compute.create_volume_snapshot"
DELETE_VOLUME_SNAPSHOT = "compute.delete_volume_snapshot"
ATTACH_VOLUME = "compute.attach_volume"
DETACH_VOLUME = "compute.detach_volume"
ATTACH_INTERFACE = "compute.attach_interface"
DETACH_INTERFACE = "compute.detach_interface"

# The simple operations: one driver call each, one payload shape (`ServerActionPayload`).
REBOOT_SERVER = "compute.reboot_server"
STOP_SERVER = "compute.stop_server"
START_SERVER = "compute.start_server"
PAUSE_SERVER = "compute.pause_server"
UNPAUSE_SERVER = "compute.unpause_server"
SUSPEND_SERVER = "compute.suspend_server"
RESUME_SERVER = "compute.resume_server"
SIMPLE_OPERATIONS = frozenset(
    {
        REBOOT_SERVER,
        STOP_SERVER,
        START_SERVER,
        PAUSE_SERVER,
        UNPAUSE_SERVER,
        SUSPEND_SERVER,
        RESUME_SERVER,
    }
)

# Seconds the API waits for a host's console output before it gives up (409 to the user).
CONSOLE_OUTPUT_TIMEOUT = 30.0


# --- payloads ---------------------------------------------------------------------------------


class ServerActionPayload(TypedDict):
    server_uuid: str
    action: str  # the action's name (apps.servers.actions), reported back
    request_id: str
    hard: bool  # reboots only: hard rather than soft


class RebuildPayload(TypedDict):
    instance: InstancePayload
    image: ImagePayload  # the new image
    request_id: str
    power_on: bool  # a stopped server is rebuilt stopped, as in Nova


class DeletePayload(TypedDict):
    server_uuid: str
    request_id: str
    port_ids: NotRequired[list[str]]  # the guest's ports, unplugged from the host's networks


class AttachInterfacePayload(TypedDict):
    """Plug one port into a guest: its network and port for the host's agent, the NIC for
    the hypervisor."""

    server_uuid: str
    port_id: str
    request_id: str
    vif: VifPayload
    networks: HostNetworksPayload


class DetachInterfacePayload(TypedDict):
    server_uuid: str
    port_id: str
    request_id: str


class SnapshotPayload(TypedDict):
    server_uuid: str
    image_id: str
    upload_url: str  # signed; the control plane's own URL only (workers/transfer.py)
    request_id: str


class ResizePayload(TypedDict):
    """To the source host: power off and upload the disk to the transfer image."""

    server_uuid: str
    migration_uuid: str
    transfer_image_id: str
    upload_url: str
    power_on: bool  # whether the destination starts it (it was running)
    request_id: str


class FinishResizePayload(TypedDict):
    """To the destination host: fetch the disk, define the guest with the new flavor."""

    server_uuid: str
    migration_uuid: str
    instance: InstancePayload  # with the new flavor's sizes
    image: ImagePayload
    disk_url: str
    transfer_image_id: str
    power_on: bool
    request_id: str
    networks: NotRequired[HostNetworksPayload]  # its ports, now bound here, to plug first


class AnswerResizePayload(TypedDict):
    """Confirm (to the source) or revert (to the destination) a finished resize."""

    server_uuid: str
    migration_uuid: str
    request_id: str
    same_host: bool


class FinishRevertPayload(TypedDict):
    """To the source host: start the instance again with its old flavor and disk."""

    server_uuid: str
    migration_uuid: str
    instance: InstancePayload  # with the old flavor's sizes
    image: ImagePayload
    power_on: bool
    request_id: str
    networks: NotRequired[HostNetworksPayload]  # its ports, bound here again, to plug first


class VolumeDeletePayload(TypedDict):
    volume_id: str
    backend: str
    request_id: str


class VolumeExtendPayload(TypedDict):
    """Grow a volume to `size_gb`; when it is attached (`server_uuid`), the guest is told
    the disk's new size too."""

    volume_id: str
    backend: str
    size_gb: int
    request_id: str
    server_uuid: NotRequired[str | None]
    device_name: NotRequired[str | None]


class VolumeSnapshotPayload(TypedDict):
    """Create (or delete) snapshot `snapshot_id` of volume `volume_id`, in the volume's pool."""

    snapshot_id: str
    volume_id: str
    backend: str
    request_id: str


class AttachVolumePayload(TypedDict):
    """Hot-plug a volume into a running (or stopped) guest; the host answers with
    `from_compute.VOLUME_ATTACHED` once the domain holds the disk, or with the fault."""

    server_uuid: str
    attachment_id: str
    request_id: str
    block_device: BlockDevicePayload


class DetachVolumePayload(TypedDict):
    """Unplug a volume; done only when the domain no longer lists the disk (the guest let go)."""

    server_uuid: str
    volume_id: str
    attachment_id: str
    device_name: str | None
    request_id: str


P = TypeVar("P")


class Carrying(TypedDict, Generic[P]):
    """The arguments of most compute tasks: one payload."""

    payload: P


class DestroyOrphan(TypedDict):
    server_uuid: str


class GetConsoleOutput(TypedDict):
    server_uuid: str
    length: int | None  # the last lines; None: all


MESSAGES: dict[str, Any] = {
    BUILD_SERVER: Carrying[BuildPayload],
    REBUILD_SERVER: Carrying[RebuildPayload],
    DELETE_SERVER: Carrying[DeletePayload],
    DESTROY_ORPHAN: DestroyOrphan,
    GET_CONSOLE_OUTPUT: GetConsoleOutput,
    SNAPSHOT_SERVER: Carrying[SnapshotPayload],
    RESIZE_SERVER: Carrying[ResizePayload],
    FINISH_RESIZE: Carrying[FinishResizePayload],
    CONFIRM_RESIZE: Carrying[AnswerResizePayload],
    REVERT_RESIZE: Carrying[AnswerResizePayload],
    FINISH_REVERT_RESIZE: Carrying[FinishRevertPayload],
    SYNC_NETWORKS: Carrying[HostNetworksPayload],
    ATTACH_INTERFACE: Carrying[AttachInterfacePayload],
    DETACH_INTERFACE: Carrying[DetachInterfacePayload],
    CREATE_VOLUME: Carrying[VolumeCreatePayload],
    DELETE_VOLUME: Carrying[VolumeDeletePayload],
    EXTEND_VOLUME: Carrying[VolumeExtendPayload],
    CREATE_VOLUME_SNAPSHOT: Carrying[VolumeSnapshotPayload],
    DELETE_VOLUME_SNAPSHOT: Carrying[VolumeSnapshotPayload],
    ATTACH_VOLUME: Carrying[AttachVolumePayload],
    DETACH_VOLUME: Carrying[DetachVolumePayload],
    **dict.fromkeys(SIMPLE_OPERATIONS, Carrying[ServerActionPayload]),
}


# --- send functions ---------------------------------------------------------------------------


def _to(send: Send, task: str, host: str, kwargs: Mapping[str, Any]) -> None:
    send(task, kwargs=kwargs, queue=compute_queue(host))


def build_server(send: Send, host: str, *, payload: BuildPayload) -> None:
    _to(send, BUILD_SERVER, host, {"payload": payload})


def server_action(send: Send, host: str, *, operation: str, payload: ServerActionPayload) -> None:
    """One of the `SIMPLE_OPERATIONS` (the actions table names which)."""
    if operation not in SIMPLE_OPERATIONS:
        raise ValueError(f"{operation} is not a simple compute operation")
    _to(send, operation, host, {"payload": payload})


def rebuild_server(send: Send, host: str, *, payload: RebuildPayload) -> None:
    _to(send, REBUILD_SERVER, host, {"payload": payload})


def delete_server(send: Send, host: str, *, payload: DeletePayload) -> None:
    _to(send, DELETE_SERVER, host, {"payload": payload})


def destroy_orphan(send: Send, host: str, *, server_uuid: str) -> None:
    """Remove a domain and files the database no longer knows (deleted while the host was down)."""
    args: DestroyOrphan = {"server_uuid": server_uuid}
    _to(send, DESTROY_ORPHAN, host, args)


def snapshot_server(send: Send, host: str, *, payload: SnapshotPayload) -> None:
    _to(send, SNAPSHOT_SERVER, host, {"payload": payload})


def resize_server(send: Send, host: str, *, payload: ResizePayload) -> None:
    """On the source host: power off and hand the disk over (upload to the transfer URL)."""
    _to(send, RESIZE_SERVER, host, {"payload": payload})


def finish_resize(send: Send, host: str, *, payload: FinishResizePayload) -> None:
    """On the destination host: fetch the disk and start the instance with the new flavor."""
    _to(send, FINISH_RESIZE, host, {"payload": payload})


def confirm_resize(send: Send, host: str, *, payload: AnswerResizePayload) -> None:
    """On the source host: remove what is left of the instance there."""
    _to(send, CONFIRM_RESIZE, host, {"payload": payload})


def revert_resize(send: Send, host: str, *, payload: AnswerResizePayload) -> None:
    """On the destination host: remove the new copy (the conductor then restarts the source)."""
    _to(send, REVERT_RESIZE, host, {"payload": payload})


def finish_revert_resize(send: Send, host: str, *, payload: FinishRevertPayload) -> None:
    """On the source host: start the instance again with its old flavor."""
    _to(send, FINISH_REVERT_RESIZE, host, {"payload": payload})


def sync_networks(send: Send, host: str, *, payload: HostNetworksPayload) -> None:
    """The whole of the host's networks: its agent makes the kernel match (after the host
    started, and whenever security groups, routers or floating IPs there change)."""
    _to(send, SYNC_NETWORKS, host, {"payload": payload})


def attach_interface(send: Send, host: str, *, payload: AttachInterfacePayload) -> None:
    _to(send, ATTACH_INTERFACE, host, {"payload": payload})


def detach_interface(send: Send, host: str, *, payload: DetachInterfacePayload) -> None:
    _to(send, DETACH_INTERFACE, host, {"payload": payload})


def create_volume(send: Send, host: str, *, payload: VolumeCreatePayload) -> None:
    _to(send, CREATE_VOLUME, host, {"payload": payload})


def delete_volume(send: Send, host: str, *, payload: VolumeDeletePayload) -> None:
    _to(send, DELETE_VOLUME, host, {"payload": payload})


def extend_volume(send: Send, host: str, *, payload: VolumeExtendPayload) -> None:
    _to(send, EXTEND_VOLUME, host, {"payload": payload})


def create_volume_snapshot(send: Send, host: str, *, payload: VolumeSnapshotPayload) -> None:
    _to(send, CREATE_VOLUME_SNAPSHOT, host, {"payload": payload})


def delete_volume_snapshot(send: Send, host: str, *, payload: VolumeSnapshotPayload) -> None:
    _to(send, DELETE_VOLUME_SNAPSHOT, host, {"payload": payload})


def attach_volume(send: Send, host: str, *, payload: AttachVolumePayload) -> None:
    _to(send, ATTACH_VOLUME, host, {"payload": payload})


def detach_volume(send: Send, host: str, *, payload: DetachVolumePayload) -> None:
    _to(send, DETACH_VOLUME, host, {"payload": payload})


def get_console_output(call: Call, host: str, *, server_uuid: str, length: int | None) -> str:
    """The call: the last `length` lines of the guest's serial log, waiting at most
    `CONSOLE_OUTPUT_TIMEOUT` seconds for the host (raises on timeout)."""
    args: GetConsoleOutput = {"server_uuid": server_uuid, "length": length}
    output = call(
        GET_CONSOLE_OUTPUT, kwargs=args, queue=compute_queue(host), timeout=CONSOLE_OUTPUT_TIMEOUT
    )
    return str(output)

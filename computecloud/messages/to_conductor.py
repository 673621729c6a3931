"""Messages to the conductor from the API and from beat: work to orchestrate.

Routed to the ``conductor`` queue by name (`computecloud.queues.TASK_ROUTES`); the tasks are
in apps/conductor/tasks.py (the token purges in apps/identity/tasks.py and
apps/consoles/tasks.py). The API sends them with `computecloud.tasking.enqueue_on_commit`,
after the transaction that wrote the state they act on; every task checks that state again,
so a redelivered or superseded message does nothing.
"""

from typing import TypedDict

from computecloud.messages import Send

# --- from the API ------------------------------------------------------------------------------

SCHEDULE_AND_BUILD_SERVERS = "conductor.schedule_and_build_servers"
RUN_SERVER_ACTION = "conductor.run_server_action"
DELETE_SERVER = "conductor.delete_server"
REBUILD_SERVER = "conductor.rebuild_server"
SNAPSHOT_SERVER = "conductor.snapshot_server"
RESIZE_SERVER = "conductor.resize_server"
CONFIRM_RESIZE = "conductor.confirm_resize"
REVERT_RESIZE = "conductor.revert_resize"
SYNC_HOST_NETWORKS = "conductor.sync_host_networks"


class ScheduleAndBuildServers(TypedDict):
    server_uuids: list[str]  # the servers of one create request, in launch order
    request_id: str


class RunServerAction(TypedDict):
    server_uuid: str
    action: str  # a key of apps.servers.actions.SIMPLE_ACTIONS
    request_id: str


class ServerWork(TypedDict):
    """Delete or rebuild one server (the API has set its task state)."""

    server_uuid: str
    request_id: str


class SnapshotServer(TypedDict):
    server_uuid: str
    image_id: str  # the queued image the snapshot is uploaded into
    request_id: str


class MigrationWork(TypedDict):
    """Start, confirm or revert one resize or cold migration."""

    server_uuid: str
    migration_uuid: str
    request_id: str


class SyncHostNetworks(TypedDict):
    """Hosts whose networks changed: the conductor sends each its whole state, read after
    the change committed."""

    hosts: list[str]


def schedule_and_build_servers(send: Send, *, server_uuids: list[str], request_id: str) -> None:
    """Schedule the servers of one create request, then build each on its host."""
    args: ScheduleAndBuildServers = {"server_uuids": server_uuids, "request_id": request_id}
    send(SCHEDULE_AND_BUILD_SERVERS, kwargs=args)


def run_server_action(send: Send, *, server_uuid: str, action: str, request_id: str) -> None:
    """Carry a simple action (reboot, stop, pause, ...) to the server's host."""
    args: RunServerAction = {"server_uuid": server_uuid, "action": action, "request_id": request_id}
    send(RUN_SERVER_ACTION, kwargs=args)


def delete_server(send: Send, *, server_uuid: str, request_id: str) -> None:
    """Delete the server on its host (a server on a host that is down is deleted locally)."""
    args: ServerWork = {"server_uuid": server_uuid, "request_id": request_id}
    send(DELETE_SERVER, kwargs=args)


def rebuild_server(send: Send, *, server_uuid: str, request_id: str) -> None:
    """Recreate the server's disk from its (new) image on its host."""
    args: ServerWork = {"server_uuid": server_uuid, "request_id": request_id}
    send(REBUILD_SERVER, kwargs=args)


def snapshot_server(send: Send, *, server_uuid: str, image_id: str, request_id: str) -> None:
    """Have the server's host upload a snapshot of its disk into image `image_id`."""
    args: SnapshotServer = {
        "server_uuid": server_uuid,
        "image_id": image_id,
        "request_id": request_id,
    }
    send(SNAPSHOT_SERVER, kwargs=args)


def sync_host_networks(send: Send, *, hosts: list[str]) -> None:
    args: SyncHostNetworks = {"hosts": hosts}
    send(SYNC_HOST_NETWORKS, kwargs=args)


def _migration(
    send: Send, task: str, server_uuid: str, migration_uuid: str, request_id: str
) -> None:
    args: MigrationWork = {
        "server_uuid": server_uuid,
        "migration_uuid": migration_uuid,
        "request_id": request_id,
    }
    send(task, kwargs=args)


def resize_server(send: Send, *, server_uuid: str, migration_uuid: str, request_id: str) -> None:
    """Schedule a resize or cold migration and hand the disk from source to destination."""
    _migration(send, RESIZE_SERVER, server_uuid, migration_uuid, request_id)


def confirm_resize(send: Send, *, server_uuid: str, migration_uuid: str, request_id: str) -> None:
    """Keep the resized server: remove what is left on the source host."""
    _migration(send, CONFIRM_RESIZE, server_uuid, migration_uuid, request_id)


def revert_resize(send: Send, *, server_uuid: str, migration_uuid: str, request_id: str) -> None:
    """Abandon the resize: remove the new copy and start the old one again."""
    _migration(send, REVERT_RESIZE, server_uuid, migration_uuid, request_id)


# --- from beat: periodic jobs, no arguments (computecloud.queues.BEAT_SCHEDULE sends them) -----

EXPIRE_STUCK_BUILDS = "conductor.expire_stuck_builds"
CONFIRM_EXPIRED_RESIZES = "conductor.confirm_expired_resizes"
RESET_STALE_IMAGE_UPLOADS = "conductor.reset_stale_image_uploads"
PURGE_IDENTITY_TOKENS = "conductor.purge_identity_tokens"
PURGE_CONSOLE_TOKENS = "conductor.purge_console_tokens"


class Periodic(TypedDict):
    """A periodic job takes no arguments."""


MESSAGES: dict[str, type] = {
    SCHEDULE_AND_BUILD_SERVERS: ScheduleAndBuildServers,
    RUN_SERVER_ACTION: RunServerAction,
    DELETE_SERVER: ServerWork,
    REBUILD_SERVER: ServerWork,
    SNAPSHOT_SERVER: SnapshotServer,
    RESIZE_SERVER: MigrationWork,
    CONFIRM_RESIZE: MigrationWork,
    REVERT_RESIZE: MigrationWork,
    SYNC_HOST_NETWORKS: SyncHostNetworks,
    EXPIRE_STUCK_BUILDS: Periodic,
    CONFIRM_EXPIRED_RESIZES: Periodic,
    RESET_STALE_IMAGE_UPLOADS: Periodic,
    PURGE_IDENTITY_TOKENS: Periodic,
    PURGE_CONSOLE_TOKENS: Periodic,
}

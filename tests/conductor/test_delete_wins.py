"""A delete that lands between a conductor step's read and its write wins.

Every conductor step that writes a server's state reads the server first, without a lock,
then writes. Each test here makes the race happen for real, with two database sessions: the
user's delete goes through the API inside a transaction that is held open; the step runs in
its own thread and session, reads the server as it was before the delete (which has not
committed), and reaches its write, where it must wait for the delete's row lock; then the
delete commits and the step goes on. The step must then find that the state it expected is
gone and do nothing: the server stays deleting (its host is up: the host is asked to destroy
it) or deleted (its host is down: deleted at once), as the delete left it.

Steps are the conductor's own service functions, called as its tasks call them, with what a
compute host would report; nothing is mocked. Messages the steps send after commit go to the
tests' Redis database, where no worker listens, and are dropped after each test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.conductor import moves
from apps.conductor import services as conductor
from apps.hosts.models import Service
from apps.images.models import Image
from apps.placement.models import ResourceProvider
from apps.placement.services import get_allocations
from apps.servers.choices import PowerState, TaskState, VmState
from apps.servers.models import InstanceAction, InstanceFault, Migration, Server
from tests.conftest import Caller
from tests.harness import purge_broker, wait_until
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db(transaction=True)

SERVERS = "/compute/v2.1/servers"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
HOSTS = ("host-a", "host-b")
FACTS = {"vcpus": 8, "memory_mb": 16384, "local_gb": 100}
# How the delete finds the server's host: up (the delete is handed to it: task "deleting")
# or down (deleted at once).
DELETES = pytest.mark.parametrize("host_down", [False, True], ids=["deleting", "deleted"])


@pytest.fixture(autouse=True)
def _hosts() -> Iterator[None]:
    for host in HOSTS:
        create_host(host, memory_mb=4096)
    yield
    purge_broker()  # what the steps sent to hosts that are not there


# --- the race ------------------------------------------------------------------------------------
def state_of(server: Server) -> dict[str, Any]:
    return (
        Server.with_deleted.filter(pk=server.pk)
        .values("vm_state", "task_state", "host", "node", "power_state", "deleted", "flavor_id")
        .get()
    )


def _waits_for_this_session(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))", [pid])
        return bool(cursor.fetchone()[0])


def delete_during(
    step: Callable[[], object], member: Caller, server: Server, *, host_down: bool
) -> dict[str, Any]:
    """Delete `server` through the API while `step` runs between its read and its write (see
    the module's docstring). Returns the server's state as the delete left it."""
    if host_down:
        Service.objects.filter(host=server.host).update(
            last_seen_up=timezone.now() - timedelta(days=1)
        )
    outcome: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            started.set()
            step()
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc
        finally:
            started.set()
            connection.close()

    thread = threading.Thread(target=run, name="conductor-step")
    with transaction.atomic():
        response = member.client.delete(f"{SERVERS}/{server.uuid}", **V)
        assert response.status_code == 204, response.content
        left = state_of(server)
        assert left["deleted"] or left["task_state"] == TaskState.DELETING
        assert left["deleted"] or not host_down
        thread.start()
        assert started.wait(timeout=60)
        wait_until(
            lambda: not thread.is_alive() or _waits_for_this_session(outcome["pid"]),
            timeout=60,
            interval=0.02,
            what="the step to reach the server's row",
        )
        assert thread.is_alive(), outcome.get("error") or "the step never wrote the server"
    thread.join(timeout=60)
    assert not thread.is_alive(), "the step is still waiting after the delete committed"
    if "error" in outcome:
        raise outcome["error"]
    return left


def assert_delete_won(server: Server, left: dict[str, Any]) -> None:
    assert state_of(server) == left
    server.refresh_from_db()
    assert server.deleted or server.task_state == TaskState.DELETING


# --- getting a server to each step, through the API and the conductor's own steps ---------------
def request_id(server: Server, action: str) -> str:
    return (
        InstanceAction.objects.filter(server=server, action=action).latest("start_time").request_id
    )


def create(member: Caller, image_id: str) -> Server:
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = member.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    return Server.objects.get(uuid=response.json()["server"]["id"])


def scheduled(member: Caller, image_id: str) -> Server:
    """A server the conductor has sent to a host to build (task spawning)."""
    server = create(member, image_id)
    conductor.schedule_and_build_servers(
        server_uuids=[str(server.uuid)], request_id=request_id(server, "create")
    )
    server.refresh_from_db()
    assert (server.task_state, server.host in HOSTS) == (TaskState.SPAWNING, True)
    return server


def active(member: Caller, image_id: str) -> Server:
    server = scheduled(member, image_id)
    conductor.build_server_done(
        host=server.host,
        server_uuid=str(server.uuid),
        request_id=request_id(server, "create"),
        power_state=PowerState.RUNNING,
    )
    server.refresh_from_db()
    assert server.vm_state == VmState.ACTIVE
    return server


def act(member: Caller, server: Server, body: dict[str, Any]) -> Any:
    response = member.client.post(f"{SERVERS}/{server.uuid}/action", body, format="json", **V)
    assert response.status_code in (200, 202, 204), response.content
    server.refresh_from_db()
    return response


def resizing(member: Caller, image_id: str, *, flavor: str = "1") -> tuple[Server, Migration]:
    """A server whose resize the API accepted (task resize_prep)."""
    server = active(member, image_id)
    act(member, server, {"resize": {"flavorRef": flavor}})
    assert server.task_state == TaskState.RESIZE_PREP
    return server, Migration.objects.get(server=server)


def migrating(member: Caller, image_id: str) -> tuple[Server, Migration]:
    """The source host has the resize (task resize_migrating)."""
    server, migration = resizing(member, image_id)
    moves.resize_server(
        server_uuid=str(server.uuid),
        migration_uuid=str(migration.uuid),
        request_id=request_id(server, "resize"),
    )
    server.refresh_from_db()
    migration.refresh_from_db()
    assert server.task_state == TaskState.RESIZE_MIGRATING
    return server, migration


def transfer_of(migration: Migration) -> str:
    return str(Image.objects.get(name=f"transfer-{migration.uuid}").id)


def migrated(member: Caller, image_id: str) -> tuple[Server, Migration]:
    """The destination host has the disk (task resize_migrated)."""
    server, migration = migrating(member, image_id)
    moves.resize_migrated(
        host=server.host,
        server_uuid=str(server.uuid),
        migration_uuid=str(migration.uuid),
        request_id=request_id(server, "resize"),
        ok=True,
        power_on=True,
        transfer_image_id=transfer_of(migration),
    )
    server.refresh_from_db()
    assert server.task_state == TaskState.RESIZE_MIGRATED
    return server, migration


def resized(member: Caller, image_id: str) -> tuple[Server, Migration]:
    """VERIFY_RESIZE on the destination."""
    server, migration = migrated(member, image_id)
    moves.resize_finished(
        host=migration.dest_host,
        server_uuid=str(server.uuid),
        migration_uuid=str(migration.uuid),
        request_id=request_id(server, "resize"),
        ok=True,
        power_state=PowerState.RUNNING,
        transfer_image_id=transfer_of(migration),
    )
    server.refresh_from_db()
    assert server.vm_state == VmState.RESIZED
    return server, migration


# --- build ---------------------------------------------------------------------------------------
def test_scheduling_gives_a_server_deleted_meanwhile_no_host_and_no_claim(
    member: Caller, image_id: str
) -> None:
    server = create(member, image_id)  # no host yet: deleted at once
    step = lambda: conductor.schedule_and_build_servers(  # noqa: E731
        server_uuids=[str(server.uuid)], request_id=request_id(server, "create")
    )
    left = delete_during(step, member, server, host_down=False)
    assert_delete_won(server, left)
    assert left["host"] is None
    assert get_allocations(server.uuid) == {}


@DELETES
def test_build_done(member: Caller, image_id: str, host_down: bool) -> None:
    server = scheduled(member, image_id)
    left = delete_during(
        lambda: conductor.build_server_done(
            host=server.host,
            server_uuid=str(server.uuid),
            request_id=request_id(server, "create"),
            power_state=PowerState.RUNNING,
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
@pytest.mark.parametrize("reschedule", [True, False], ids=["rescheduled", "given-up"])
def test_build_failed(member: Caller, image_id: str, host_down: bool, reschedule: bool) -> None:
    server = scheduled(member, image_id)
    other = next(h for h in HOSTS if h != server.host)
    alternate = {
        "host": other,
        "node": f"{other}.node",
        "provider_uuid": str(ResourceProvider.objects.get(name=other).uuid),
        "allocation": {"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1},
    }
    left = delete_during(
        lambda: conductor.build_server_failed(
            host=server.host,
            server_uuid=str(server.uuid),
            request_id=request_id(server, "create"),
            fault={"message": "SpawnFailed", "details": ""},
            alternates=[alternate] if reschedule else [],
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert not InstanceFault.objects.filter(server=server).exists()


@DELETES
def test_build_timeout(member: Caller, image_id: str, host_down: bool) -> None:
    server = scheduled(member, image_id)
    # set-up: the build started longer ago than BUILD_TIMEOUT
    Server.objects.filter(pk=server.pk).update(created_at=timezone.now() - timedelta(days=1))
    left = delete_during(conductor.expire_stuck_builds, member, server, host_down=host_down)
    assert_delete_won(server, left)
    assert not InstanceFault.objects.filter(server=server).exists()


# --- actions a host carried out ------------------------------------------------------------------
@DELETES
def test_simple_action_done(member: Caller, image_id: str, host_down: bool) -> None:
    server = active(member, image_id)
    act(member, server, {"os-stop": None})
    assert server.task_state == TaskState.POWERING_OFF
    left = delete_during(
        lambda: conductor.server_action_done(
            host=server.host,
            server_uuid=str(server.uuid),
            action="stop",
            request_id=request_id(server, "stop"),
            ok=True,
            power_state=PowerState.SHUTDOWN,
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
def test_rebuild_sent_to_the_host(member: Caller, image_id: str, host_down: bool) -> None:
    server = active(member, image_id)
    act(member, server, {"rebuild": {"imageRef": image_id}})
    assert server.task_state == TaskState.REBUILDING
    left = delete_during(
        lambda: conductor.rebuild_server(
            server_uuid=str(server.uuid), request_id=request_id(server, "rebuild")
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
def test_rebuild_done(member: Caller, image_id: str, host_down: bool) -> None:
    server = active(member, image_id)
    act(member, server, {"rebuild": {"imageRef": image_id}})
    rebuild = request_id(server, "rebuild")
    conductor.rebuild_server(server_uuid=str(server.uuid), request_id=rebuild)
    server.refresh_from_db()
    assert server.task_state == TaskState.REBUILD_SPAWNING
    left = delete_during(
        lambda: conductor.server_action_done(
            host=server.host,
            server_uuid=str(server.uuid),
            action="rebuild",
            request_id=rebuild,
            ok=True,
            power_state=PowerState.RUNNING,
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
def test_snapshot_sent_to_the_host(member: Caller, image_id: str, host_down: bool) -> None:
    server = active(member, image_id)
    snapshot = act(member, server, {"createImage": {"name": "snap"}}).json()["image_id"]
    assert server.task_state == TaskState.IMAGE_SNAPSHOT
    left = delete_during(
        lambda: moves.snapshot_server(
            server_uuid=str(server.uuid),
            image_id=snapshot,
            request_id=request_id(server, "createImage"),
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
def test_snapshot_done(member: Caller, image_id: str, host_down: bool) -> None:
    server = active(member, image_id)
    snapshot = act(member, server, {"createImage": {"name": "snap"}}).json()["image_id"]
    snapshot_request = request_id(server, "createImage")
    moves.snapshot_server(
        server_uuid=str(server.uuid), image_id=snapshot, request_id=snapshot_request
    )
    left = delete_during(
        lambda: conductor.server_action_done(
            host=server.host,
            server_uuid=str(server.uuid),
            action="createImage",
            request_id=snapshot_request,
            ok=True,
            power_state=PowerState.RUNNING,
            extra={"image_id": snapshot},
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
def test_delete_failed_on_the_host(member: Caller, image_id: str, host_down: bool) -> None:
    """The host could not delete; the user asks again (the host up: handed to it again, the
    host down: deleted at once) after the conductor read the report."""
    server = active(member, image_id)
    assert member.client.delete(f"{SERVERS}/{server.uuid}", **V).status_code == 204
    left = delete_during(
        lambda: conductor.server_delete_failed(
            host=server.host,
            server_uuid=str(server.uuid),
            request_id=request_id(server, "delete"),
            fault={"message": "DestroyFailed", "details": ""},
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert not InstanceFault.objects.filter(server=server).exists()


# --- host life -----------------------------------------------------------------------------------
@DELETES
def test_host_restart_recovering_a_power_task(
    member: Caller, image_id: str, host_down: bool
) -> None:
    server = active(member, image_id)
    act(member, server, {"os-stop": None})
    left = delete_during(
        lambda: conductor.compute_started(
            host=server.host, facts=FACTS, power_states={str(server.uuid): PowerState.SHUTDOWN}
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert not InstanceFault.objects.filter(server=server).exists()


@DELETES
def test_heartbeat_power_state_sync(member: Caller, image_id: str, host_down: bool) -> None:
    server = active(member, image_id)
    left = delete_during(
        lambda: conductor.compute_heartbeat(
            host=server.host,
            facts=FACTS,
            power_states={str(server.uuid): PowerState.SHUTDOWN},
            observed_at=time.time() + 60,  # news newer than anything the row has
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


# --- resize and cold migration -------------------------------------------------------------------
@DELETES
@pytest.mark.parametrize("flavor", ["1", "4"], ids=["scheduled", "no-valid-host"])
def test_resize_scheduling(member: Caller, image_id: str, host_down: bool, flavor: str) -> None:
    """m1.large (flavor 4, 8 GiB) fits no host here: the step would end the move as failed."""
    server, migration = resizing(member, image_id, flavor=flavor)
    left = delete_during(
        lambda: moves.resize_server(
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id(server, "resize"),
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert get_allocations(migration.uuid) == {}
    assert not InstanceFault.objects.filter(server=server).exists()


@DELETES
@pytest.mark.parametrize("ok", [True, False], ids=["uploaded", "failed"])
def test_resize_migrated(member: Caller, image_id: str, host_down: bool, ok: bool) -> None:
    server, migration = migrating(member, image_id)
    held = get_allocations(migration.uuid)
    left = delete_during(
        lambda: moves.resize_migrated(
            host=server.host,
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id(server, "resize"),
            ok=ok,
            power_on=True,
            transfer_image_id=transfer_of(migration),
            fault=None if ok else {"message": "UploadFailed", "details": ""},
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert get_allocations(migration.uuid) == held  # not handed back to a deleted server
    assert not InstanceFault.objects.filter(server=server).exists()


@DELETES
@pytest.mark.parametrize("ok", [True, False], ids=["started", "failed"])
def test_resize_finished(member: Caller, image_id: str, host_down: bool, ok: bool) -> None:
    server, migration = migrated(member, image_id)
    left = delete_during(
        lambda: moves.resize_finished(
            host=migration.dest_host,
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id(server, "resize"),
            ok=ok,
            power_state=PowerState.RUNNING,
            fault=None if ok else {"message": "SpawnFailed", "details": ""},
            transfer_image_id=transfer_of(migration),
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert left["flavor_id"] == "0"
    assert not InstanceFault.objects.filter(server=server).exists()


@DELETES
def test_resize_confirmed(member: Caller, image_id: str, host_down: bool) -> None:
    server, migration = resized(member, image_id)
    act(member, server, {"confirmResize": None})
    assert server.task_state == TaskState.RESIZE_CONFIRMING
    left = delete_during(
        lambda: moves.resize_confirmed(
            host=migration.source_host,
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id(server, "confirmResize"),
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)


@DELETES
@pytest.mark.parametrize("ok", [True, False], ids=["reverted", "failed"])
def test_resize_reverted(member: Caller, image_id: str, host_down: bool, ok: bool) -> None:
    server, migration = resized(member, image_id)
    act(member, server, {"revertResize": None})
    assert server.task_state == TaskState.RESIZE_REVERTING
    held = get_allocations(migration.uuid)
    left = delete_during(
        lambda: moves.resize_reverted(
            host=migration.source_host,
            server_uuid=str(server.uuid),
            migration_uuid=str(migration.uuid),
            request_id=request_id(server, "revertResize"),
            ok=ok,
            power_state=PowerState.RUNNING,
            fault=None if ok else {"message": "SpawnFailed", "details": ""},
        ),
        member,
        server,
        host_down=host_down,
    )
    assert_delete_won(server, left)
    assert left["flavor_id"] == "1"
    assert get_allocations(migration.uuid) == held
    assert not InstanceFault.objects.filter(server=server).exists()

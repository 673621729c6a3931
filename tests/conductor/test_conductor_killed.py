"""A conductor killed mid-task: a new conductor picks the task up and finishes it.

Conductor tasks are acknowledged late (computecloud/queues.py), so a task whose conductor dies
stays unacknowledged in Redis and is delivered again after the broker's visibility timeout
(BROKER_VISIBILITY_TIMEOUT, here 5 seconds rather than an hour). To kill a conductor while it
is inside a task, and never before or after it, the test holds a row lock the task needs: the
build's host assignment waits for the server's row, the delete's start event for its action's
row. With the conductor seen waiting on that lock in PostgreSQL, it is killed with SIGKILL; the
lock is released; a new conductor is started. The server must then reach ACTIVE (the killed
conductor's scheduling transaction rolled back, the redelivered build scheduled again) or be
deleted, with no task state and no instance-action event left open.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from apps.placement.models import Allocation
from apps.servers.models import InstanceAction, InstanceActionEvent, Server
from tests.cloud import Cloud, forget_hosts
from tests.conftest import Caller
from tests.harness import CloudProcesses, Worker, database_url, purge_broker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
CONDUCTOR_ENV = {"BROKER_VISIBILITY_TIMEOUT": "5"}


@pytest.fixture(scope="module")
def cloud_processes(
    django_db_setup: None, django_db_blocker: Any, live_server: Any
) -> Iterator[CloudProcesses]:
    """A conductor whose unacknowledged tasks come back after 5 s, and one compute host."""
    purge_broker()
    workdir = Path(tempfile.mkdtemp(prefix="cc-conductor-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    processes = CloudProcesses(public_url=live_server.url, workdir=workdir)
    try:
        with django_db_blocker.unblock():
            processes.start_conductor(extra_env=CONDUCTOR_ENV)
            processes.start_compute()
        yield processes
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        with django_db_blocker.unblock():
            forget_hosts(hosts)


@contextmanager
def row_locked(table: str, pk: int) -> Iterator[None]:
    """Hold `FOR UPDATE` on one row in a session of its own until the block ends."""
    with psycopg.connect(database_url()) as session, session.transaction():
        session.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608
        yield


def someone_waits_on_a_lock() -> bool:
    with psycopg.connect(database_url(), autocommit=True) as session:
        row = session.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def kill_conductor_inside_its_task(processes: CloudProcesses) -> Worker:
    """Start a conductor, wait until it blocks on the held lock, SIGKILL it."""
    conductor = processes.start_conductor(extra_env=CONDUCTOR_ENV)

    def blocked() -> bool:
        processes.check_alive()
        return someone_waits_on_a_lock()

    wait_until(blocked, timeout=90, what="the conductor to wait on the row lock")
    processes.workers.pop("conductor")
    conductor.stop(signal.SIGKILL)
    assert conductor.process.returncode == -signal.SIGKILL
    return conductor


def stop_conductor(processes: CloudProcesses) -> None:
    processes.workers.pop("conductor").stop(signal.SIGTERM)


def open_events(server_id: str) -> list[str]:
    return list(
        InstanceActionEvent.objects.filter(
            action__server__uuid=server_id, finish_time__isnull=True
        ).values_list("event", flat=True)
    )


def create(caller: Caller, image_id: str) -> str:
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = caller.client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def test_build_whose_conductor_is_killed_while_scheduling_is_built_by_the_next(
    cloud: Cloud, member: Caller
) -> None:
    processes = cloud.processes
    # given: the build request waiting in the conductor queue, its server's row locked
    stop_conductor(processes)
    server_id = create(member, cloud.image_id)
    server = Server.objects.get(uuid=server_id)
    with row_locked("servers_server", server.pk):
        # when: a conductor takes the build and is killed while it waits to assign the host
        killed = kill_conductor_inside_its_task(processes)
    assert "schedule_and_build" in killed.log.read_text(errors="replace")
    server.refresh_from_db()
    assert (server.vm_state, server.task_state, server.host) == ("building", "scheduling", None)

    # when: another conductor starts
    processes.start_conductor(extra_env=CONDUCTOR_ENV)

    # then: the redelivered build is scheduled and built; nothing is left in a task
    built = cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"}, timeout=180)
    assert built["status"] == "ACTIVE", built.get("fault")
    assert built["OS-EXT-STS:task_state"] is None
    assert Allocation.objects.filter(consumer_uuid=server_id).count() >= 1
    assert open_events(server_id) == []
    # (one claim only: the killed conductor's was rolled back with its transaction)
    providers = Allocation.objects.filter(consumer_uuid=server_id).values_list(
        "provider__name", flat=True
    )
    assert set(providers) == {Server.objects.get(uuid=server_id).host}


def test_delete_whose_conductor_is_killed_mid_task_is_finished_by_the_next(
    cloud: Cloud, member: Caller
) -> None:
    processes = cloud.processes
    server_id = create(member, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    # given: the delete waiting in the conductor queue, its action's row locked
    stop_conductor(processes)
    response = member.client.delete(f"/compute/v2.1/servers/{server_id}", **V)
    assert response.status_code == 204
    action = InstanceAction.objects.get(server__uuid=server_id, action="delete")
    with row_locked("servers_instanceaction", action.pk):
        # when: a conductor takes the delete and is killed while it records the host's step
        killed = kill_conductor_inside_its_task(processes)
    assert "delete_server" in killed.log.read_text(errors="replace")
    assert Server.objects.get(uuid=server_id).task_state == "deleting"

    # when: another conductor starts
    processes.start_conductor(extra_env=CONDUCTOR_ENV)

    # then: the server is deleted, its claim freed, its action's events all closed
    cloud.wait_for_server(member.client, server_id, {"DELETED"}, timeout=180)
    wait_until(
        lambda: not Allocation.objects.filter(consumer_uuid=server_id).exists(),
        timeout=60,
        what="the deleted server's claim to be freed",
    )
    assert open_events(server_id) == []
    events = InstanceActionEvent.objects.filter(action=action).values_list("event", "result")
    assert ("compute_terminate_instance", "Success") in list(events)

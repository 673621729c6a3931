"""The build-timeout job (beat's "build-timeout": conductor.expire_stuck_builds) on a real cloud.

A conductor worker started with a short BUILD_TIMEOUT and two compute hosts on test:///default.
A build sent to a host whose worker is stopped stays BUILDING; the periodic job, published to
the broker as beat publishes it and run by the conductor process, puts it in ERROR, with a
fault and a failed build event its owner reads through the API, and frees its claim. A server
that finished building is left alone. When the host comes back and builds the stale request
anyway, the server stays in ERROR (the conductor has the host destroy what it built).
"""

from __future__ import annotations

import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.placement.models import Allocation
from apps.servers.models import Server
from computecloud.messages import to_conductor
from tests.cloud import Cloud, forget_hosts
from tests.conftest import Caller
from tests.harness import CloudProcesses, purge_broker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
BUILD_TIMEOUT = 5  # seconds, the conductor's


@pytest.fixture(scope="module")
def cloud_processes(
    django_db_setup: None, django_db_blocker: Any, live_server: Any
) -> Iterator[CloudProcesses]:
    """tests.cloud's processes, but the conductor gives up on builds after BUILD_TIMEOUT s."""
    purge_broker()
    workdir = Path(tempfile.mkdtemp(prefix="cc-periodic-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    processes = CloudProcesses(public_url=live_server.url, workdir=workdir)
    try:
        with django_db_blocker.unblock():
            processes.start_conductor(extra_env={"BUILD_TIMEOUT": str(BUILD_TIMEOUT)})
            processes.start_compute()
            processes.start_compute()
        yield processes
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        with django_db_blocker.unblock():
            forget_hosts(hosts)


def create_on(caller: Caller, image_id: str, host: str) -> str:
    body = {
        "server": {
            "name": f"vm-{uuid.uuid4().hex[:6]}",
            "imageRef": image_id,
            "flavorRef": "0",
            "networks": "none",
            "availability_zone": f"nova:{host}",
        }
    }
    response = caller.client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def run_build_timeout_job() -> None:
    """Publish the job as beat does: the task name only, routed to the conductor queue."""
    from computecloud.celery import app

    app.send_task(to_conductor.EXPIRE_STUCK_BUILDS)


def test_build_stuck_past_the_timeout_is_put_in_error_by_the_periodic_job(
    cloud: Cloud, admin: Caller
) -> None:
    owner = admin  # placing a server on a named host is an admin's right
    processes = cloud.processes
    live_host, silent_host = processes.hosts[:2]

    # given: a server built on a live host, and one sent to a host whose worker is stopped
    built = create_on(owner, cloud.image_id, live_host)
    assert cloud.wait_for_server(owner.client, built, {"ACTIVE", "ERROR"})["status"] == "ACTIVE"
    processes.workers.pop(f"compute-{silent_host}").stop(signal.SIGTERM)
    stuck = create_on(owner, cloud.image_id, silent_host)
    wait_until(
        lambda: Server.objects.get(uuid=stuck).task_state == "spawning",
        timeout=60,
        what="the build to be sent to the stopped host",
    )
    assert Allocation.objects.filter(consumer_uuid=stuck).exists()

    # when: the periodic job runs (again) until the build is older than the timeout
    def expired() -> bool:
        run_build_timeout_job()
        return Server.objects.get(uuid=stuck).vm_state == "error"

    wait_until(expired, timeout=120, interval=2, what="the build-timeout job to expire the build")

    # then: its owner sees ERROR and a fault saying why, nothing is claimed any more
    server = cloud.wait_for_server(owner.client, stuck, {"ERROR"})
    assert server["OS-EXT-STS:task_state"] is None
    assert server["fault"]["message"] == (
        f"Build of instance {stuck} aborted: it did not finish within {BUILD_TIMEOUT} seconds"
    )
    assert not Allocation.objects.filter(consumer_uuid=stuck).exists()
    # then: the create action's build event failed, in the owner's own view of it
    actions = owner.client.get(f"/compute/v2.1/servers/{stuck}/os-instance-actions", **V)
    (create,) = actions.json()["instanceActions"]
    assert create["action"] == "create"
    detail = owner.client.get(
        f"/compute/v2.1/servers/{stuck}/os-instance-actions/{create['request_id']}", **V
    ).json()["instanceAction"]
    events = {event["event"]: event for event in detail["events"]}
    assert events["compute_build_and_run_instance"]["result"] == "Error"
    assert detail["message"] == "Error"
    # then: the server that had finished building is untouched
    assert cloud.wait_for_server(owner.client, built, {"ACTIVE"})["status"] == "ACTIVE"

    # when: the host comes back and runs the build it was sent before the timeout
    processes.hosts.remove(silent_host)
    processes.start_compute(silent_host)
    processes.wait_hosts_ready([silent_host])
    conductor = processes.workers["conductor"]
    wait_until(
        lambda: (
            f"server {stuck} built on {silent_host} but not wanted there"
            in conductor.log.read_text(errors="replace")
            or Server.objects.get(uuid=stuck).vm_state != "error"
        ),
        timeout=120,
        what="the host to report the stale build",
    )
    # then: the server stays in ERROR, and its owner can delete it
    assert Server.objects.get(uuid=stuck).vm_state == "error"
    assert admin.client.delete(f"/compute/v2.1/servers/{stuck}").status_code == 204
    cloud.wait_for_server(admin.client, stuck, {"DELETED"})

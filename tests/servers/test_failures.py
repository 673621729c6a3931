"""Failure behaviour with real processes: a compute worker killed mid-build, a build queued
for a stopped worker, a host whose heartbeats stop, deletes from ERROR, concurrent actions.

Each test runs its own compute host (a real worker on libvirt's test hypervisor) and removes
it afterwards; servers are pinned to it with the admin "zone:host" form where that matters.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from apps.placement.models import Allocation
from apps.servers.models import Server
from tests.cloud import Cloud, forget_hosts
from tests.harness import SERVICE_DOWN_TIME, CloudProcesses, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


@pytest.fixture
def own_host(cloud: Cloud, django_db_blocker: Any) -> Iterator[str]:
    """A compute host of this test's own, stopped and forgotten afterwards."""
    processes: CloudProcesses = cloud.processes
    host = processes.start_compute(f"cc-fail-{uuid.uuid4().hex[:6]}")
    processes.wait_hosts_ready([host])
    try:
        yield host
    finally:
        worker = processes.workers.pop(f"compute-{host}", None)
        if worker is not None:
            worker.stop(signal.SIGKILL)
        processes.hosts.remove(host)
        forget_hosts([host])


def create_on(client: Any, image_id: str, host: str, name: str = "vm") -> str:
    body = {
        "server": {
            "name": name,
            "imageRef": image_id,
            "flavorRef": "0",
            "networks": "none",
            "availability_zone": f"nova:{host}",
        }
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def restart_worker(processes: CloudProcesses, host: str) -> None:
    """Start the host's worker again, with the same name, directories and queue."""
    processes.workers.pop(f"compute-{host}")
    processes.hosts.remove(host)
    processes.start_compute(host)


def big_raw_image(directory: Path) -> Path:
    """A 512 MiB raw disk: its download and conversion keep a build busy for seconds."""
    path = directory / "big.raw"
    subprocess.run(["truncate", "-s", "512M", str(path)], check=True)
    return path


def test_worker_killed_mid_build_ends_in_error_and_frees_its_claim(
    cloud: Cloud, own_host: str, admin: Any, tmp_path: Path
) -> None:
    from apps.identity.services import ensure_project
    from apps.images.services import ensure_image_from_file

    # given: an image big enough that a build takes a while
    image = ensure_image_from_file(
        name="big",
        path=big_raw_image(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
        disk_format="raw",
    )
    worker = cloud.processes.compute_worker(own_host)
    server_id = create_on(admin.client, str(image.id), own_host)

    # when: the worker is killed once it has started spawning
    wait_until(
        lambda: "spawning on" in worker.log.read_text(errors="replace"),
        timeout=60,
        what="the build to start on the host",
    )
    worker.stop(signal.SIGKILL)
    assert Server.objects.get(uuid=server_id).task_state == "spawning"
    assert Allocation.objects.filter(consumer_uuid=server_id).exists()
    restart_worker(cloud.processes, own_host)

    # then: the restarted host reconciles it: ERROR with a fault, nothing left claimed
    server = cloud.wait_for_server(admin.client, server_id, {"ERROR"})
    assert "restarted while the instance was building" in server["fault"]["message"]
    assert not Allocation.objects.filter(consumer_uuid=server_id).exists()
    assert admin.client.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_for_server(admin.client, server_id, {"DELETED"})


def test_build_queued_while_the_worker_is_stopped_runs_when_it_returns(
    cloud: Cloud, own_host: str, admin: Any
) -> None:
    # given: the host's worker stopped (its service still counts as up for a while)
    cloud.processes.compute_worker(own_host).stop(signal.SIGTERM)
    # when: a server is built there meanwhile
    server_id = create_on(admin.client, cloud.image_id, own_host)
    wait_until(
        lambda: Server.objects.get(uuid=server_id).task_state == "spawning",
        timeout=60,
        what="the build to be sent to the stopped host",
    )
    restart_worker(cloud.processes, own_host)
    # then: the queued build was kept and runs
    assert cloud.wait_for_server(admin.client, server_id, {"ACTIVE", "ERROR"})["status"] == "ACTIVE"


def test_host_without_heartbeats_is_down_skipped_and_its_servers_delete_locally(
    cloud: Cloud, own_host: str, admin: Any
) -> None:
    # given: an active server on the host
    server_id = create_on(admin.client, cloud.image_id, own_host)
    cloud.wait_for_server(admin.client, server_id, {"ACTIVE"})
    # when: the host dies
    cloud.processes.workers.pop(f"compute-{own_host}").stop(signal.SIGKILL)

    def down() -> bool:
        services = admin.client.get(f"/compute/v2.1/os-services?host={own_host}", **V)
        return services.json()["services"][0]["state"] == "down"

    wait_until(down, timeout=SERVICE_DOWN_TIME * 4, interval=0.5, what=f"{own_host} down")
    # then: the scheduler no longer picks it, even when asked for it by zone
    shown = admin.client.get(f"/compute/v2.1/servers/{server_id}", **V).json()["server"]
    assert shown["host_status"] == "DOWN"
    dry_run = admin.client.post(
        "/compute/v2.1/os-scheduler/dry-run", {"flavorRef": "0", "count": 1000}, format="json"
    )
    assert own_host not in [h["host"] for h in dry_run.json().get("hosts", [])]
    # and its server is deleted at once, locally, with its claim released
    assert admin.client.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_for_server(admin.client, server_id, {"DELETED"}, timeout=10)
    assert not Allocation.objects.filter(consumer_uuid=server_id).exists()


def test_a_deleted_server_still_on_its_host_is_reclaimed_there(
    cloud: Cloud, own_host: str, admin: Any
) -> None:
    from apps.servers.services import finish_local_delete

    # given: an active server whose files are on the host
    server_id = create_on(admin.client, cloud.image_id, own_host)
    cloud.wait_for_server(admin.client, server_id, {"ACTIVE"})
    files = cloud.processes.workdir / own_host / "instances" / server_id
    assert files.is_dir()
    # when: it is deleted while its host's worker is stopped (a local delete, as the API does
    # for a host that is down), and the worker comes back
    cloud.processes.compute_worker(own_host).stop(signal.SIGKILL)
    with transaction.atomic():
        finish_local_delete(server=Server.objects.get(uuid=server_id), request_id="req-test")
    restart_worker(cloud.processes, own_host)
    # then: the host removes what was left of it
    wait_until(lambda: not files.exists(), timeout=60, interval=0.2, what="reclaimed files")
    assert Server.with_deleted.get(uuid=server_id).deleted


def test_delete_works_from_error(cloud: Cloud, member: Any) -> None:
    # given: a server that cannot be placed anywhere (more memory than any host, within quota)
    from apps.flavors.services import create_flavor

    create_flavor(name="huge", flavorid="huge", memory_mb=40000, vcpus=1, root_gb=1)
    body = {
        "server": {
            "name": "big",
            "imageRef": cloud.image_id,
            "flavorRef": "huge",
            "networks": "none",
        }
    }
    server_id = member.client.post("/compute/v2.1/servers", body, format="json").json()["server"][
        "id"
    ]
    server = cloud.wait_for_server(member.client, server_id, {"ERROR"})
    assert server["fault"]["message"].startswith("No valid host was found.")
    # when / then
    assert member.client.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_for_server(member.client, server_id, {"DELETED"}, timeout=10)


def test_two_concurrent_actions_give_one_success_and_one_conflict(
    cloud: Cloud, member: Any
) -> None:
    from rest_framework.test import APIClient

    body = {
        "server": {"name": "race", "imageRef": cloud.image_id, "flavorRef": "0", "networks": "none"}
    }
    server_id = member.client.post("/compute/v2.1/servers", body, format="json").json()["server"][
        "id"
    ]
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def act(action: dict[str, Any]) -> None:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=member.token)
        barrier.wait()
        response = client.post(f"/compute/v2.1/servers/{server_id}/action", action, format="json")
        codes.append(response.status_code)
        from django.db import connection

        connection.close()

    threads = [
        threading.Thread(target=act, args=({"os-stop": None},)),
        threading.Thread(target=act, args=({"reboot": {"type": "SOFT"}},)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [202, 409]

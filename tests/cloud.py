"""Fixtures for tests that need the whole control plane and compute hosts running.

Import them in a conftest with ``from tests.cloud import *``-free explicit names:
``from tests.cloud import cloud_processes, cloud`` (pytest finds fixtures by name).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.flavors.services import ensure_standard_flavors
from apps.identity.models import Project
from tests.harness import SERVICE_DOWN_TIME, CloudProcesses, purge_broker, wait_until

BUILD_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def cloud_processes(
    django_db_setup: None, django_db_blocker: Any, live_server: Any
) -> Iterator[CloudProcesses]:
    """A conductor worker and two compute hosts on libvirt's test:///default, for one module.

    Afterwards the workers are stopped and their hosts' records removed, so that no other
    test sees hosts that no longer run (a last heartbeat may land after the last flush).
    """
    purge_broker()
    workdir = Path(tempfile.mkdtemp(prefix="cc-cloud-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    processes = CloudProcesses(public_url=live_server.url, workdir=workdir)
    try:
        with django_db_blocker.unblock():
            processes.start_conductor()
            processes.start_compute()
            processes.start_compute()
        yield processes
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        with django_db_blocker.unblock():
            forget_hosts(hosts)


def forget_hosts(hosts: list[str]) -> None:
    """Remove stopped hosts' services, nodes, providers and what is allocated on them."""
    from apps.hosts.models import ComputeNode, Service
    from apps.placement.models import Allocation, ResourceProvider

    Allocation.objects.filter(provider__name__in=hosts).delete()
    ResourceProvider.objects.filter(name__in=hosts).delete()
    ComputeNode.objects.filter(host__in=hosts).delete()
    Service.objects.filter(host__in=hosts).delete()


def disconnect_others() -> None:
    """End every other session on the test database (a worker that died mid-query, a live
    server thread) so that pytest-django can drop it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def tiny_qcow2(directory: Path) -> Path:
    path = directory / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True)
    return path


@dataclass
class Cloud:
    processes: CloudProcesses
    image_id: str

    def wait_for_server(
        self,
        client: APIClient,
        server_id: str,
        statuses: set[str],
        *,
        timeout: float = BUILD_TIMEOUT,
        task_state_idle: bool = True,
    ) -> dict[str, Any]:
        """Poll the API until the server's status is one of `statuses` (and its task idle)."""

        def reached() -> dict[str, Any] | None:
            self.processes.check_alive()
            response = client.get(
                f"/compute/v2.1/servers/{server_id}", HTTP_OPENSTACK_API_VERSION="compute 2.96"
            )
            if response.status_code == 404 and "DELETED" in statuses:
                return {"status": "DELETED"}
            body = response.json()["server"]
            idle = body["OS-EXT-STS:task_state"] is None or not task_state_idle
            return body if body["status"] in statuses and idle else None

        try:
            return wait_until(
                reached, timeout=timeout, interval=0.1, what=f"{server_id} {statuses}"
            )
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.processes.diagnostics()}") from None


@pytest.fixture
def cloud(
    cloud_processes: CloudProcesses,
    transactional_db: None,
    settings: Any,
    live_server: Any,
    tmp_path: Path,
) -> Cloud:
    """The running cloud, its hosts registered, standard flavors and a tiny public image."""
    from apps.identity.services import ensure_project
    from apps.images.services import ensure_image_from_file

    settings.PUBLIC_URL = live_server.url
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "SERVICE_DOWN_TIME": SERVICE_DOWN_TIME}
    ensure_standard_flavors()
    owner: Project = ensure_project(name="images")
    image = ensure_image_from_file(
        name="tiny", path=tiny_qcow2(tmp_path), owner=owner, visibility="public", properties={}
    )
    cloud_processes.wait_hosts_ready()
    return Cloud(processes=cloud_processes, image_id=str(image.id))

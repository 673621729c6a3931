"""The broker restarts while work is queued: nothing is lost.

This test runs its own Redis (the machine's is shared) with an append-only file, its own API
(gunicorn), conductor and compute worker on it. A build is queued for a stopped host, the
broker is restarted, the host comes back: the build runs. A server created after the restart
builds too (every process reconnected).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from apps.identity.services import assign_roles, ensure_project
from apps.identity.tokens import issue_token
from apps.images.services import ensure_image_from_file
from tests.cloud import forget_hosts, tiny_qcow2
from tests.factories import UserFactory
from tests.harness import CloudProcesses, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=30, what="the private Redis")

    def answers(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # redis flushes the append-only file on SIGTERM
            self.process.wait(timeout=30)


@pytest.fixture
def private_cloud(django_db_blocker: Any) -> Iterator[tuple[CloudProcesses, PrivateRedis, str]]:
    workdir = Path(tempfile.mkdtemp(prefix="cc-broker-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    redis = PrivateRedis(workdir)
    redis.start()
    port = free_port()
    processes = CloudProcesses(
        public_url=f"http://127.0.0.1:{port}", workdir=workdir, broker_url=redis.url
    )
    try:
        processes.start_api(port)
        processes.start_conductor()
        host = processes.start_compute(f"cc-broker-{uuid.uuid4().hex[:6]}")
        processes.wait_hosts_ready([host])
        yield processes, redis, host
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        forget_hosts(hosts)


def test_queued_build_survives_a_broker_restart(private_cloud: Any, tmp_path: Path) -> None:
    processes, redis, host = private_cloud
    api = processes.public_url
    # given: an admin, the standard flavors, an image
    from apps.flavors.services import ensure_standard_flavors

    ensure_standard_flavors()
    project = ensure_project(name=f"broker-{uuid.uuid4().hex[:6]}")
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["admin"])
    token = issue_token(user=user, project=project, methods=["password"]).token
    image = ensure_image_from_file(
        name="tiny",
        path=tiny_qcow2(tmp_path),
        owner=project,
        visibility="public",
        properties={},
    )
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.96"}
    wait_until(
        lambda: requests.get(f"{api}/compute/", timeout=5).ok, timeout=60, what="the API process"
    )

    def create(name: str) -> str:
        body = {
            "server": {
                "name": name,
                "imageRef": str(image.id),
                "flavorRef": "0",
                "networks": "none",
                "availability_zone": f"nova:{host}",
            }
        }
        response = requests.post(
            f"{api}/compute/v2.1/servers", json=body, headers=headers, timeout=30
        )
        assert response.status_code == 202, response.text
        return str(response.json()["server"]["id"])

    def status(server_id: str) -> str:
        response = requests.get(
            f"{api}/compute/v2.1/servers/{server_id}", headers=headers, timeout=30
        )
        return str(response.json()["server"]["status"]) if response.ok else "?"

    # when: the host's worker is stopped, a build is queued for it, the broker restarts
    processes.workers.pop(f"compute-{host}").stop()
    processes.hosts.remove(host)
    first = create("before-restart")
    wait_until(
        lambda: (
            subprocess.run(
                ["redis-cli", "-p", str(redis.port), "llen", f"compute.{host}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            == "1"
        ),
        timeout=60,
        what="the build message queued for the stopped host",
    )
    redis.stop()
    redis.start()
    processes.start_compute(host)

    # then: the queued build ran, and new work flows through every process again
    wait_until(lambda: status(first) == "ACTIVE", timeout=120, what="the queued build")
    second = create("after-restart")
    wait_until(lambda: status(second) == "ACTIVE", timeout=120, what="a build after restart")

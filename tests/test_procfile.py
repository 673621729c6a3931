"""The Procfile itself: every line `scripts/run` starts, started by honcho, working together.

honcho reads the Procfile with .env, then a test environment file read after it (the test's
database, its Redis database and cache prefix, free ports for the web, the console proxy and the
metadata listener, a compute host of its own on libvirt's test:///default with its own
directories and network names). Every line runs as written, through
scripts/as-user, with one exception: beat's `--schedule var/run/celerybeat-schedule` is the
checkout's own schedule file, shared with the development system's beat, so the test runs a
copy of the Procfile in which only that path is a temporary file (`-d` keeps the checkout as
the working directory).

Then: the web serves a token, a server created through it is built by the compute line's
worker via the conductor line's, the console proxy and the metadata listener answer on their
ports, and beat's first "build-timeout" run (a minute after it starts) reaches the conductor,
which puts a build stuck past BUILD_TIMEOUT in ERROR: beat + conductor + the Procfile's wiring.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.utils import timezone

from apps.flavors.services import ensure_standard_flavors
from apps.hosts.models import Service
from apps.identity.services import assign_roles, ensure_project
from apps.images.services import ensure_image_from_file
from apps.placement.models import Inventory
from apps.servers.choices import PowerState, TaskState, VmState
from apps.servers.models import Server
from computecloud.conf import cc_settings
from tests.cloud import forget_hosts, tiny_qcow2
from tests.factories import ProjectFactory, UserFactory
from tests.harness import (
    ROOT,
    answers_tcp,
    database_url,
    free_port,
    network_prefix,
    purge_broker,
    stop_group,
    wait_until,
)
from tests.identity.helpers import PASSWORD
from workers.network.agent import NetworkAgent
from workers.network.config import NetworkAgentConfig

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HONCHO = str(Path(sys.executable).parent / "honcho")
PROCESSES = ("web", "conductor", "compute", "beat", "consoleproxy", "metadata")
BEAT_SCHEDULE_IN_PROCFILE = "--schedule var/run/celerybeat-schedule"


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    log: Path
    web_url: str
    host: str
    ports: dict[str, int]
    state_dir: Path

    def output(self, tail: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def lines_of(self, name: str) -> list[str]:
        """honcho's lines of process `name` ("HH:MM:SS name.1 | ...")."""
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if line.split(" ", 2)[1:2] == [f"{name}.1"]
        ]

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"honcho exited:\n{self.output()}")


def procfile_copy(directory: Path) -> Path:
    """The Procfile with only beat's schedule file moved to `directory`."""
    text = (ROOT / "Procfile").read_text()
    assert text.count(BEAT_SCHEDULE_IN_PROCFILE) == 1, "the beat line changed: update this test"
    copy = directory / "Procfile"
    copy.write_text(
        text.replace(BEAT_SCHEDULE_IN_PROCFILE, f"--schedule {directory}/celerybeat-schedule")
    )
    return copy


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path) -> Iterator[Stack]:
    purge_broker()
    # Files the service user's processes read or write (the web's image store, beat's schedule)
    # and the compute host's directories: not below pytest's root-only temporary directory.
    base = Path(tempfile.mkdtemp(prefix="cc-procfile-", dir="/var/lib/computecloud"))
    base.chmod(0o755)
    for name in ("state", "run", "instances", "cache"):
        (base / name).mkdir()
    subprocess.run(["chown", "computecloud:computecloud", str(base / "run")], check=True)
    host = f"cc-procfile-{uuid.uuid4().hex[:6]}"
    network = NetworkAgentConfig(prefix=network_prefix(), state_dir=base / "network")
    ports = {name: free_port() for name in ("web", "consoleproxy", "metadata")}
    web_url = f"http://127.0.0.1:{ports['web']}"
    overrides = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": django_settings.CELERY_RESULT_BACKEND,
        "CACHE_KEY_PREFIX": django_settings.CACHES["default"]["KEY_PREFIX"],
        "DB_CONN_MAX_AGE": "0",
        "PUBLIC_URL": web_url,
        "STATE_DIR": str(base / "state"),
        "WEB_BIND": f"127.0.0.1:{ports['web']}",
        "CONSOLE_PROXY_PORT": str(ports["consoleproxy"]),
        "METADATA_HOST": "127.0.0.1",
        "METADATA_PORT": str(ports["metadata"]),
        "METADATA_URL": f"http://127.0.0.1:{ports['metadata']}",
        "COMPUTE_HOST": host,
        "LIBVIRT_URI": "test:///default",
        "VIRT_TYPE": "qemu",
        "INSTANCES_PATH": str(base / "instances"),
        "IMAGE_CACHE_PATH": str(base / "cache"),
        "CONTROL_PLANE_URL": web_url,
        "REPORT_INTERVAL": "1",
        "NETWORK_PREFIX": network.prefix,
        "NETWORK_STATE_DIR": str(network.state_dir),
    }
    env_file = base / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in overrides.items()))
    procfile = procfile_copy(base / "run")
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                HONCHO,
                "-f",
                str(procfile),
                "-d",
                str(ROOT),
                "-e",
                f".env,{env_file}",
                "start",
                *PROCESSES,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Stack(
        process=process,
        log=log,
        web_url=web_url,
        host=host,
        ports=ports,
        state_dir=base / "state",
    )
    try:
        yield running
    finally:
        stop_group(process)
        forget_hosts([host])
        NetworkAgent(network).apply({"networks": [], "ports": [], "routers": []})
        if not os.environ.get("CC_KEEP_WORKER_LOGS"):
            subprocess.run(["rm", "-rf", str(base)], check=False)


def token_for(stack: Stack) -> tuple[str, str]:
    """A member's token from the web line, and their project's id."""
    project = ProjectFactory()
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["member"])
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user.pk, "password": PASSWORD}},
            },
            "scope": {"project": {"id": project.pk}},
        }
    }

    def issued() -> requests.Response | None:
        stack.check_running()
        with contextlib.suppress(requests.ConnectionError):
            return requests.post(f"{stack.web_url}/identity/v3/auth/tokens", json=body, timeout=30)
        return None

    response = wait_until(issued, timeout=120, interval=0.5, what="the web line to answer")
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"], str(project.pk)


def host_ready(stack: Stack) -> bool:
    stack.check_running()
    service = Service.objects.filter(host=stack.host).first()
    return bool(
        service and service.is_up and Inventory.objects.filter(provider__name=stack.host).exists()
    )


def stuck_build(project_id: str) -> Server:
    """A server left building for twice BUILD_TIMEOUT, as a build whose host never answered
    leaves it."""
    server = Server.objects.create(
        name="stuck",
        project_id=project_id,
        user_id="u-stuck",
        flavor_id="0",
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        vm_state=VmState.BUILDING,
        task_state=TaskState.SCHEDULING,
        power_state=PowerState.NOSTATE,
    )
    created_at = timezone.now() - timedelta(seconds=2 * int(cc_settings.BUILD_TIMEOUT))
    Server.objects.filter(pk=server.pk).update(created_at=created_at)
    return server


def test_the_procfiles_processes_work_together_and_beat_runs_the_build_timeout(
    stack: Stack, tmp_path: Path, settings: Any
) -> None:
    # given: flavors and an image in the web line's image store
    settings.STATE_DIR = stack.state_dir
    ensure_standard_flavors()
    image = ensure_image_from_file(
        name="tiny",
        path=tiny_qcow2(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    # (the store is the service user's, as scripts/setup.sh leaves var/: the test wrote as root)
    subprocess.run(["chown", "-R", "computecloud:computecloud", str(stack.state_dir)], check=True)
    token, project_id = token_for(stack)
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.96"}
    stuck = stuck_build(project_id)

    # when: the compute line's host has registered, a server is created through the web line
    wait_until(lambda: host_ready(stack), timeout=120, interval=0.5, what="the compute line")
    body = {
        "server": {"name": "vm", "imageRef": str(image.id), "flavorRef": "0", "networks": "none"}
    }
    response = requests.post(
        f"{stack.web_url}/compute/v2.1/servers", json=body, headers=headers, timeout=30
    )
    assert response.status_code == 202, response.text
    server_id = response.json()["server"]["id"]

    # then: the conductor line schedules it and the compute line builds it
    def built() -> dict[str, Any] | None:
        stack.check_running()
        shown = requests.get(
            f"{stack.web_url}/compute/v2.1/servers/{server_id}", headers=headers, timeout=30
        ).json()["server"]
        return shown if shown["status"] in ("ACTIVE", "ERROR") else None

    server = wait_until(built, timeout=120, interval=0.5, what="the server to build")
    assert server["status"] == "ACTIVE", (server.get("fault"), stack.output())
    assert server["OS-EXT-STS:power_state"] == PowerState.RUNNING
    # then: the console proxy and the metadata listener listen where they were told
    assert answers_tcp(stack.ports["consoleproxy"]), stack.output()
    metadata = requests.get(f"http://127.0.0.1:{stack.ports['metadata']}/", timeout=30)
    assert metadata.status_code < 500, metadata.text

    # when: beat's build-timeout entry comes due (a minute after beat starts)
    def expired() -> bool:
        stack.check_running()
        stuck.refresh_from_db()
        return stuck.vm_state == VmState.ERROR

    wait_until(expired, timeout=240, interval=1, what="beat's build-timeout job")

    # then: beat sent it, the conductor ran it, and the stuck build has its fault
    beat = "\n".join(stack.lines_of("beat"))
    assert "Sending due task build-timeout (conductor.expire_stuck_builds)" in beat
    conductor = "\n".join(stack.lines_of("conductor"))
    assert "1 stuck builds put in ERROR" in conductor
    assert stuck.task_state is None
    assert stuck.faults.get().message.startswith(f"Build of instance {stuck.uuid} aborted")
    # the built server was not touched
    assert Server.objects.get(uuid=server_id).vm_state == VmState.ACTIVE

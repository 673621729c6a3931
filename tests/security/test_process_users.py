"""Control-plane processes run as the unprivileged service user, which cannot touch root's.

The web and conductor processes are started exactly as ``scripts/run`` starts them: honcho
reads the Procfile, whose lines go through ``scripts/as-user``, with .env as its environment.
Only the database, the Redis database and the listening address are the test's (a second
environment file, read after .env). The probes of what the user may not do go through the
same launcher.
"""

import contextlib
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from honcho.environ import parse as parse_env

from apps.identity.services import assign_roles
from computecloud.celery import app as celery_app
from tests.factories import ProjectFactory, UserFactory
from tests.harness import ROOT, database_url, wait_until
from tests.identity.helpers import PASSWORD

pytestmark = pytest.mark.slow

SERVICE_USER = "computecloud"
HONCHO = str(Path(sys.executable).parent / "honcho")
AS_USER = str(ROOT / "scripts" / "as-user")


def dotenv() -> dict[str, str]:
    """The settings file the processes start with, read by the parser honcho uses."""
    return dict(parse_env((ROOT / ".env").read_text()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) for every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended meanwhile
        # The command name in stat is parenthesised and may hold spaces: split after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, cmdline)
    return table


def descendants(root: int) -> dict[int, str]:
    table = process_table()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cmdline) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = cmdline
                frontier.append(pid)
    return found


def executable(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def ids(pid: int) -> dict[str, list[str]]:
    """The Uid, Gid, Groups and CapEff lines of /proc/<pid>/status."""
    wanted = ("Uid", "Gid", "Groups", "CapEff")
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.split() for k, _, v in (line.partition(":") for line in lines) if k in wanted}


@dataclass
class Honcho:
    process: subprocess.Popen[bytes]
    log: Path
    web_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def find(self, *words: str) -> list[int]:
        """Python processes under honcho whose command line holds every word (not the shell
        honcho starts each Procfile line with, nor the launcher, which exec into them)."""
        return sorted(
            pid
            for pid, cmdline in descendants(self.process.pid).items()
            if all(word in cmdline for word in words) and "python" in executable(pid)
        )


@pytest.fixture
def honcho(transactional_db: None, tmp_path: Path) -> Iterator[Honcho]:
    """``honcho start web conductor`` from the Procfile, on the test's database and Redis."""
    port = free_port()
    overrides = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "WEB_BIND": f"127.0.0.1:{port}",
        "DB_CONN_MAX_AGE": "0",
    }
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in overrides.items()))
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [HONCHO, "-f", "Procfile", "-e", f".env,{env_file}", "start", "web", "conductor"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Honcho(process=process, log=log, web_url=f"http://127.0.0.1:{port}")
    try:
        yield running
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """honcho stops its processes on SIGTERM; whatever is left of the group is killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing left
        os.killpg(process.pid, signal.SIGKILL)


def web_answers(honcho: Honcho) -> bool:
    if honcho.process.poll() is not None:
        raise RuntimeError(f"honcho exited:\n{honcho.output()}")
    try:
        return requests.get(f"{honcho.web_url}/identity/v3", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_web_and_conductor_run_as_the_service_user_and_work(honcho: Honcho) -> None:
    # given: a user who asks the web process for a token
    project = ProjectFactory()
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["member"])
    service = pwd.getpwnam(SERVICE_USER)

    # when: both processes are up (the web answers, the conductor answers a broker ping)
    wait_until(lambda: web_answers(honcho), timeout=120, interval=0.3, what="the web process")
    conductor = f"conductor@{socket.gethostname()}"
    wait_until(
        lambda: celery_app.control.ping(destination=[conductor], timeout=1.0),
        timeout=120,
        interval=0.5,
        what=f"{conductor} to answer a ping\n{honcho.output()}",
    )
    response = requests.post(
        f"{honcho.web_url}/identity/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"id": user.pk, "password": PASSWORD},
                    },
                },
                "scope": {"project": {"id": project.pk}},
            }
        },
        timeout=30,
    )

    # then: the web serves the request, and every process of both runs as the service user,
    # with its own group only and no capabilities
    assert response.status_code == 201, honcho.output()
    gunicorns = honcho.find("gunicorn", "computecloud.wsgi")
    conductors = honcho.find("celery", "conductor,scheduler")
    assert len(gunicorns) >= 2, honcho.output()  # the master and its workers
    assert conductors, honcho.output()
    uid, gid = str(service.pw_uid), str(service.pw_gid)
    for pid in gunicorns + conductors:
        status = ids(pid)
        assert status["Uid"] == [uid] * 4, (pid, status)
        assert status["Gid"] == [gid] * 4, (pid, status)
        assert status.get("Groups", []) == [], (pid, status)
        assert int(status["CapEff"][0], 16) == 0, (pid, status)


PROBE = """
import json, os, subprocess, sys

def attempt(action):
    try:
        action()
        return "allowed"
    except PermissionError:
        return "refused"

def create(directory):
    path = os.path.join(directory, ".probe-%d" % os.getpid())
    def action():
        open(path, "x").close()
        os.remove(path)
    return action

targets = json.loads(sys.argv[1])
virsh = subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True)
print(json.dumps({
    "write instances": attempt(create(targets["instances"])),
    "write image cache": attempt(create(targets["image_cache"])),
    "write state directory": attempt(create(targets["state"])),
    "write .env": attempt(lambda: open(targets["dotenv"], "a").close()),
    "read openrc": attempt(lambda: open(targets["openrc"]).read()),
    "read .env": attempt(lambda: open(targets["dotenv"]).read()),
    "write image store": attempt(create(targets["images"])),
    "libvirt": "allowed" if virsh.returncode == 0 else "refused",
}))
"""


def test_the_service_user_cannot_touch_what_is_roots() -> None:
    # given: the places set-up made (scripts/setup.sh), as .env names them
    env = dotenv()
    state = ROOT / "var"
    targets: dict[str, Any] = {
        "instances": env.get("INSTANCES_PATH", "/var/lib/computecloud/instances"),
        "image_cache": env.get("IMAGE_CACHE_PATH", "/var/lib/computecloud/image-cache"),
        "state": str(state),
        "images": str(state / "images"),
        "dotenv": str(ROOT / ".env"),
        "openrc": str(state / "admin-openrc.sh"),
    }
    assert Path(targets["instances"]).is_dir()
    assert (state / "admin-openrc.sh").is_file()
    dotenv_before = (ROOT / ".env").read_bytes()
    # root reaches the hypervisor: a refusal below is about the user, not a libvirtd down
    subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True, check=True)

    # when: the service user tries, started through the Procfile's launcher
    python = str(ROOT / ".venv" / "bin" / "python")
    result = subprocess.run(
        [AS_USER, SERVICE_USER, python, "-c", PROBE, json.dumps(targets)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    # then: it reads its settings and writes the image store, and nothing of root's
    assert json.loads(result.stdout) == {
        "write instances": "refused",
        "write image cache": "refused",
        "write state directory": "refused",
        "write .env": "refused",
        "read openrc": "refused",
        "read .env": "allowed",
        "write image store": "allowed",
        "libvirt": "refused",
    }
    assert (ROOT / ".env").read_bytes() == dotenv_before
    left = [
        p for d in ("instances", "image_cache", "state") for p in Path(targets[d]).glob(".probe-*")
    ]
    assert left == []

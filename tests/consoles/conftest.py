"""Fixtures for console tests, reusable by end-to-end tests (import them explicitly):

- `make_console_server`: a Server row with a console address (set-up data, as the conductor
  stores it from a host's report);
- `fake_vnc`: TCP servers that speak the first line of RFB, counting connections;
- `console_proxy`: a real ``manage.py consoleproxy`` process on a free port, against the test
  database (module-scoped; its log is readable for session lines).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from apps.identity.context import RequestContext
from apps.servers.choices import PowerState, VmState
from apps.servers.models import Server
from tests.harness import ROOT, database_url, free_port, wait_until

RFB_VERSION = b"RFB 003.008\n"
# The proxy accepts pages from this origin besides its own (CONSOLE_ALLOWED_ORIGINS).
DASHBOARD_ORIGIN = "dashboard.example:8443"


def caller_context(caller: Any, role: str = "member") -> RequestContext:
    """The RequestContext a token of `caller` (tests.conftest.Caller) carries."""
    return RequestContext(
        user_id=str(caller.user.pk), project_id=str(caller.project.pk), roles=frozenset({role})
    )


@pytest.fixture
def make_console_server() -> Callable[..., Server]:
    def make(
        project: Any,
        *,
        user_id: str = "u-1",
        console: dict[str, Any] | None = None,
        vm_state: str = VmState.ACTIVE,
        task_state: str | None = None,
        host: str | None = "compute-1",
    ) -> Server:
        return Server.objects.create(
            name=f"console-{uuid.uuid4().hex[:6]}",
            project=project,
            user_id=user_id,
            flavor_id="f1",
            reservation_id=f"r-{uuid.uuid4().hex[:8]}",
            vm_state=vm_state,
            task_state=task_state,
            power_state=PowerState.RUNNING if vm_state == VmState.ACTIVE else PowerState.SHUTDOWN,
            host=host,
            node=host,
            console=console,
        )

    return make


# --- a VNC server that says hello --------------------------------------------------------------
@dataclass
class FakeVncServer:
    """Listens on 127.0.0.1, sends RFB's version line to each client and keeps it open."""

    sock: socket.socket
    accepted: int = 0
    clients: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def console(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port}

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.clients.append(client)
            with contextlib.suppress(OSError):
                client.sendall(RFB_VERSION)

    def stop(self) -> None:
        self.sock.close()
        with self.lock:
            for client in self.clients:
                client.close()


@pytest.fixture
def fake_vnc() -> Iterator[Callable[[], FakeVncServer]]:
    servers: list[FakeVncServer] = []

    def start() -> FakeVncServer:
        server = FakeVncServer(sock=socket.create_server(("127.0.0.1", 0)))
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- the proxy ---------------------------------------------------------------------------------
@dataclass
class ConsoleProxy:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_console_proxy(log_dir: Path, *extra_args: str, scheme: str = "http") -> ConsoleProxy:
    """Run ``manage.py consoleproxy`` on a free port against this test process's database.

    `scheme` is that of the console URLs it is meant for (https with ``--cert``).
    """
    port = free_port()
    log = log_dir / f"consoleproxy-{port}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CONSOLE_PROXY_URL": f"{scheme}://127.0.0.1:{port}",
        "DB_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "consoleproxy",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--allowed-origin",
                DASHBOARD_ORIGIN,
                *extra_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    proxy = ConsoleProxy(process=process, host="127.0.0.1", port=port, log=log, scheme=scheme)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"consoleproxy exited ({process.returncode}):\n{proxy.log_text()}")
        return _listening("127.0.0.1", port)

    try:
        wait_until(ready, timeout=30, what="the console proxy to listen")
    except BaseException:
        proxy.stop()
        raise
    return proxy


@pytest.fixture(scope="module")
def console_proxy(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleProxy]:
    """A running console proxy for the module's tests; stopped even if they fail."""
    proxy = start_console_proxy(tmp_path_factory.mktemp("consoleproxy"))
    try:
        yield proxy
    finally:
        proxy.stop()

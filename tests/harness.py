"""A real computecloud for tests: conductor and compute workers as separate processes.

`CloudProcesses` starts a conductor worker (queues conductor and scheduler, against the test
database) and compute workers (one per fake-free host: libvirt's in-memory test:///default
hypervisor, or real QEMU), all on the tests' own Redis database. Nothing of ours is mocked:
the API runs in the test process (DRF's client) or the live server, the rest as in production.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from workers.network.agent import NetworkAgent
from workers.network.config import NetworkAgentConfig

ROOT = Path(__file__).resolve().parent.parent
# Tests' hosts are "down" this many seconds after their last heartbeat (they beat every
# second): short enough for failure tests to wait for, long enough for a loaded machine.
SERVICE_DOWN_TIME = 15
# Deleted instances still on a host are reclaimed after this many seconds (60 by default).
RECLAIM_GRACE = 2
CELERY = str(Path(sys.executable).parent / "celery")


def worker_args(app: str, queues: str, name: str, concurrency: int) -> list[str]:
    """`celery` arguments of a test worker: a thread pool, quiet between workers."""
    return [
        *("-A", app, "worker", "-Q", queues, "-n", name),
        *("--pool", "threads", "-c", str(concurrency)),
        *("--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"),
    ]


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Poll `predicate` until it returns something truthy; raise with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_tcp(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts a TCP connection there."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def stop_group(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60
) -> None:
    """`sig` to the process group a process leads (started with start_new_session; honcho
    stops its processes on SIGINT and SIGTERM alike), then SIGKILL to whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def network_prefix() -> str:
    """A fresh name prefix for a test host's network agent (1-4 lowercase letters and
    digits): "t" and three random base-36 digits."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "t" + "".join(secrets.choice(digits) for _ in range(3))


def database_url() -> str:
    """The URL of the database this test process uses (the test database)."""
    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:"
        f"{s['PORT'] or 5432}/{s['NAME']}"
    )


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class CloudProcesses:
    """The workers of one test session (or one test), cleaned up by `stop_all`."""

    public_url: str
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    workers: dict[str, Worker] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    # Another broker than the tests' own (the broker-restart test runs a private Redis).
    broker_url: str | None = None
    # Where compute hosts' metadata proxies forward guests (a test's own metadata server).
    metadata_url: str = "http://127.0.0.1:8775"
    # Each compute host's network agent settings, to empty its kernel state at the end.
    networks: dict[str, NetworkAgentConfig] = field(default_factory=dict)

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "SECRET_KEY", "DB_PASSWORD")
        }
        broker = self.broker_url or settings.CELERY_BROKER_URL
        env.update(
            {
                "REDIS_URL": self.broker_url or settings.REDIS_URL,
                "CELERY_BROKER_URL": broker,
                "CELERY_RESULT_BACKEND": broker,
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "INFO",
            }
        )
        env.update(extra)
        return env

    def _start(
        self, name: str, args: list[str], env: dict[str, str], program: str = CELERY
    ) -> Worker:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [program, *args],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = Worker(name=name, process=process, log=log)
        self.workers[name] = worker
        return worker

    def start_conductor(
        self, *, concurrency: int = 8, extra_env: dict[str, str] | None = None
    ) -> Worker:
        env = self._env(
            {
                "DATABASE_URL": database_url(),
                "SECRET_KEY": settings.SECRET_KEY,
                "PUBLIC_URL": self.public_url,
                "DB_CONN_MAX_AGE": "0",
                "SERVICE_DOWN_TIME": str(SERVICE_DOWN_TIME),
                "RECLAIM_GRACE": str(RECLAIM_GRACE),
                **(extra_env or {}),
            }
        )
        return self._start(
            "conductor",
            worker_args(
                "computecloud", "conductor,scheduler", f"conductor-{self.run_id}@%h", concurrency
            ),
            env,
        )

    def start_api(
        self,
        port: int,
        *,
        extra_args: Sequence[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> Worker:
        """The API as its own gunicorn process (for tests that run a private broker, or
        read its logs); `extra_args` are more gunicorn options."""
        env = self._env(
            {
                "DATABASE_URL": database_url(),
                "SECRET_KEY": settings.SECRET_KEY,
                "PUBLIC_URL": self.public_url,
                "STATE_DIR": str(settings.STATE_DIR),
                "SERVICE_DOWN_TIME": str(SERVICE_DOWN_TIME),
                "DB_CONN_MAX_AGE": "0",
                **(extra_env or {}),
            }
        )
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        return self._start(
            "api",
            [
                "computecloud.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--no-control-socket",
                *extra_args,
            ],
            env,
            program=gunicorn,
        )

    def start_compute(
        self,
        host: str | None = None,
        *,
        libvirt_uri: str = "test:///default",
        virt_type: str = "qemu",
        concurrency: int = 4,
        extra_env: dict[str, str] | None = None,
        netns: str | None = None,
        broker_url: str | None = None,
    ) -> str:
        """A compute worker for `host`. `netns`: run it in that network namespace (a host
        of its own on the network; whoever made the namespace removes it, and with it what
        the host's agent built there). `broker_url`: Redis as this host reaches it, when
        that is another address than the control plane's."""
        host = host or f"cc-test-{self.run_id}-{len(self.hosts) + 1}"
        base = self.workdir / host
        (base / "instances").mkdir(parents=True, exist_ok=True)
        (base / "cache").mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        network = NetworkAgentConfig(prefix=network_prefix(), state_dir=base / "network")
        if netns is None:  # emptied by stop_all from this (the root) namespace
            network = self.networks.setdefault(host, network)
        names = ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        broker = dict.fromkeys(names, broker_url) if broker_url else {}
        env = self._env(
            {
                **broker,
                "COMPUTE_HOST": host,
                "LIBVIRT_URI": libvirt_uri,
                "VIRT_TYPE": virt_type,
                "INSTANCES_PATH": str(base / "instances"),
                "IMAGE_CACHE_PATH": str(base / "cache"),
                "CONTROL_PLANE_URL": self.public_url,
                "REPORT_INTERVAL": "1",
                "CLEAN_SHUTDOWN_TIMEOUT": "5",
                # Its own names in the kernel and its own files: hosts of concurrent test runs
                # never touch each other's networks.
                "NETWORK_PREFIX": network.prefix,
                "NETWORK_STATE_DIR": str(network.state_dir),
                "METADATA_URL": self.metadata_url,
                "METADATA_SHARED_SECRET": settings.COMPUTECLOUD["METADATA_SHARED_SECRET"],
                **(extra_env or {}),
            }
        )
        args = worker_args("workers.compute.app", f"compute.{host}", f"compute@{host}", concurrency)
        if netns is None:
            self._start(f"compute-{host}", args, env)
        else:  # `ip netns exec` execs the worker: the process is the worker itself
            self._start(f"compute-{host}", ["netns", "exec", netns, CELERY, *args], env, "ip")
        self.hosts.append(host)
        return host

    def compute_worker(self, host: str) -> Worker:
        return self.workers[f"compute-{host}"]

    def check_alive(self) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited:\n{worker.tail()}")

    def wait_hosts_ready(self, hosts: Iterable[str] | None = None, timeout: float = 90) -> None:
        """Until each host's service is up and its resource provider has inventory."""
        from apps.hosts.models import Service
        from apps.placement.models import Inventory

        wanted = set(hosts or self.hosts)

        def ready() -> bool:
            self.check_alive()
            up = {s.host for s in Service.objects.filter(host__in=wanted) if s.is_up}
            with_inventory = set(
                Inventory.objects.filter(provider__name__in=wanted).values_list(
                    "provider__name", flat=True
                )
            )
            return wanted <= up and wanted <= with_inventory

        try:
            wait_until(ready, timeout=timeout, interval=0.2, what=f"hosts {sorted(wanted)}")
        except TimeoutError:
            raise TimeoutError(self.diagnostics()) from None

    def diagnostics(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.tail()}" for w in self.workers.values())

    def clear_networks(self, host: str) -> None:
        """Remove what `host`'s network agent built in the kernel: its worker is gone, and
        the bridges, namespaces, dnsmasq and tables it made outlive the process."""
        network = self.networks.pop(host, None)
        if network is not None:
            NetworkAgent(network).apply({"networks": [], "ports": [], "routers": []})

    def stop_all(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.workers.clear()
        # What the hosts' agents built in the kernel (bridges, namespaces, dnsmasq, nftables
        # tables) outlives their processes: an empty state removes all of it.
        for network in self.networks.values():
            NetworkAgent(network).apply({"networks": [], "ports": [], "routers": []})
        self.networks.clear()
        if not os.environ.get("CC_KEEP_WORKER_LOGS"):  # set it to read the logs afterwards
            shutil.rmtree(self.workdir, ignore_errors=True)


def purge_broker() -> None:
    """Drop whatever an earlier run left in the tests' Redis database."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()

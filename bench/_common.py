"""Shared helpers of the benchmarks: a throw-away database, Django set-up, gunicorn on a free
port, percentiles, per-process-kind peak memory, and callers with tokens.

A benchmark owns its database (created next to the one ``DATABASE_URL`` names, as the same
role, dropped at the end even on failure) and its Redis database number, so it never touches
a development system's state. Nothing here measures; the scripts do.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workers.network.agent import NetworkAgent  # noqa: E402 - needs ROOT on sys.path
from workers.network.config import NetworkAgentConfig  # noqa: E402


# --- database -----------------------------------------------------------------------------------
def database_urls(name: str) -> tuple[str, str]:
    """(URL of the bench database `name`, URL of the maintenance database), same role."""
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    base = urlparse(os.environ["DATABASE_URL"])
    bench = urlunparse(base._replace(path=f"/{name}"))
    maintenance = urlunparse(base._replace(path="/postgres", scheme="postgresql"))
    return bench, maintenance


def redis_url(db: int) -> str:
    """The Redis .env names (its password included), database `db`: a benchmark's own."""
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    return urlunparse(urlparse(os.environ["REDIS_URL"])._replace(path=f"/{db}"))


def _admin(maintenance_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def bench_database(name: str, *, keep: bool = False) -> Iterator[str]:
    """Create database `name` (dropping a leftover), point ``DATABASE_URL`` at it, set Django
    up and migrate; drop it on the way out (FORCE: ends the bench's own servers' sessions)."""
    bench_url, maintenance_url = database_urls(name)
    _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(maintenance_url, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield bench_url
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not have been set up at all
            pass
        if not keep:
            _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- processes ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment plus `extra`, unbuffered, quiet logs."""
    env = dict(os.environ)
    env.update({"PYTHONUNBUFFERED": "1", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")})
    env.update(extra)
    return env


# A gunicorn configuration that moves everything a worker loaded at start-up to the garbage
# collector's permanent generation (gc.freeze), so that collections during a request walk only
# that request's objects: the experiment behind `--gc-freeze` (see bench/README.md).
GC_FREEZE_CONFIG = """
import gc


def post_worker_init(worker):
    gc.freeze()
"""


def start_gunicorn(
    *,
    port: int,
    workers: int,
    threads: int,
    env: dict[str, str],
    log: Path,
    gc_freeze: bool = False,
) -> subprocess.Popen[bytes]:
    """gunicorn computecloud.wsgi as the Procfile runs it (gthread), on 127.0.0.1:`port`;
    with `gc_freeze`, plus GC_FREEZE_CONFIG."""
    handle = log.open("wb")
    config: list[str] = []
    if gc_freeze:
        path = log.with_name("gunicorn-gc-freeze.conf.py")
        path.write_text(GC_FREEZE_CONFIG)
        config = ["--config", str(path)]
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            *config,
            "computecloud.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


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


def wait_http(
    url: str, *, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Until `url` answers at all (any status); fail early if `process` died."""
    import requests

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{url} server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            requests.get(url, timeout=10)
        except (requests.ConnectionError, requests.Timeout):
            return False
        return True

    wait_until(up, timeout=timeout, interval=0.2, what=url)


# --- a whole cloud: API, conductor, compute workers ---------------------------------------------
CELERY = str(BIN / "celery")
# What a compute worker must not hold (docs/decisions/0002-compute-without-database.md).
CONTROL_PLANE_SECRETS = ("DATABASE_URL", "DB_PASSWORD", "SECRET_KEY", "ADMIN_PASSWORD")


@dataclass
class BenchCloud:
    """The processes of one benchmark run, started as the Procfile starts them, each logging
    to `workdir`; `stop_all` ends them (only these: by the pids started here)."""

    workdir: Path
    database_url: str
    redis_url: str
    public_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    networks: list[NetworkAgentConfig] = field(default_factory=list)

    def _env(self, extra: dict[str, str], *, control_plane: bool) -> dict[str, str]:
        env = child_env(
            {
                "REDIS_URL": self.redis_url,
                "CELERY_BROKER_URL": self.redis_url,
                "CACHE_URL": self.redis_url,
                "PUBLIC_URL": self.public_url,
            }
        )
        if control_plane:
            env["DATABASE_URL"] = self.database_url
        else:
            for key in CONTROL_PLANE_SECRETS:
                env.pop(key, None)
        env.update(extra)
        return env

    def _popen(
        self, name: str, kind: str, args: list[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        handle = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes[name] = process
        self.kinds[name] = kind
        return process

    def start_api(self, *, workers: int, threads: int) -> str:
        port = free_port()
        self.public_url = f"http://127.0.0.1:{port}"
        env = self._env({"PUBLIC_URL": self.public_url}, control_plane=True)
        process = start_gunicorn(
            port=port, workers=workers, threads=threads, env=env, log=self.workdir / "api.log"
        )
        self.processes["api"] = process
        self.kinds["api"] = "api"
        wait_http(f"{self.public_url}/compute/", process=process, log=self.workdir / "api.log")
        return self.public_url

    def start_conductor(self, *, pool: str, concurrency: int, name: str = "conductor") -> None:
        """As the Procfile: ``celery -A computecloud worker -Q conductor,scheduler``; `name`
        tells several apart."""
        self._popen(
            name,
            "conductor",
            [
                CELERY, "-A", "computecloud", "worker", "-Q", "conductor,scheduler",
                "-n", f"{name}-{os.getpid()}@%h", "--pool", pool, "-c", str(concurrency),
                "--without-gossip", "--without-mingle", "--loglevel", "INFO",
            ],
            self._env({"LOG_LEVEL": "INFO"}, control_plane=True),
        )  # fmt: skip

    def start_compute(
        self,
        host: str,
        *,
        libvirt_uri: str = "test:///default",
        virt_type: str = "qemu",
        concurrency: int = 8,
        report_interval: int = 10,
    ) -> None:
        """As the Procfile: one worker per host, threads, no database credentials; its network
        agent with names of its own (several hosts share this kernel)."""
        base = self.workdir / host
        network = NetworkAgentConfig(prefix=f"b{len(self.hosts)}", state_dir=base / "network")
        self.networks.append(network)
        for sub in ("instances", "cache"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        env = self._env(
            {
                "COMPUTE_HOST": host,
                "LIBVIRT_URI": libvirt_uri,
                "VIRT_TYPE": virt_type,
                "INSTANCES_PATH": str(base / "instances"),
                "IMAGE_CACHE_PATH": str(base / "cache"),
                "REPORT_INTERVAL": str(report_interval),
                "LOG_LEVEL": "INFO",
                "NETWORK_PREFIX": network.prefix,
                "NETWORK_STATE_DIR": str(network.state_dir),
            },
            control_plane=False,
        )
        self._popen(
            f"compute-{host}",
            "compute",
            [
                CELERY, "-A", "workers.compute.app", "worker", "-Q", f"compute.{host}",
                "-n", f"compute@{host}", "--pool", "threads", "-c", str(concurrency),
                "--without-gossip", "--without-mingle", "--loglevel", "INFO",
            ],
            env,
        )  # fmt: skip
        self.hosts.append(host)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / ("api.log" if name == "api" else f"{name}.log")
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_hosts_ready(self, timeout: float = 120) -> None:
        """Until every host's compute service is up and its resource provider has inventory."""
        from apps.hosts.models import Service
        from apps.placement.models import Inventory

        wanted = set(self.hosts)

        def ready() -> bool:
            self.check_alive()
            up = {s.host for s in Service.objects.filter(host__in=wanted) if s.is_up}
            stocked = set(
                Inventory.objects.filter(provider__name__in=wanted).values_list(
                    "provider__name", flat=True
                )
            )
            return wanted <= up and wanted <= stocked

        wait_until(ready, timeout=timeout, interval=0.2, what=f"{len(wanted)} compute hosts")

    def memory_roots(self) -> dict[str, list[int]]:
        roots: dict[str, list[int]] = {}
        for name, process in self.processes.items():
            roots.setdefault(self.kinds[name], []).append(process.pid)
        return roots

    def stop(self, name: str) -> None:
        stop_process(self.processes.pop(name))

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop_process(process)
        self.processes.clear()
        # What the hosts' network agents built in the kernel outlives them: empty it.
        for network in self.networks:
            NetworkAgent(network).apply({"networks": [], "ports": [], "routers": []})
        self.networks.clear()
        if any(kind == "compute" for kind in self.kinds.values()):
            destroy_real_guests_under(self.workdir)


def destroy_real_guests_under(directory: Path) -> None:
    """Stop and undefine the real guests whose files live under `directory` (a run that
    failed half-way leaves them running, their host gone). Through virsh: only workers/virt
    imports libvirt."""

    def virsh(*args: str) -> str:
        return subprocess.run(
            ["virsh", "-c", "qemu:///system", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        ).stdout

    for name in virsh("list", "--all", "--name").split():
        if str(directory) in virsh("dumpxml", "--inactive", name):
            virsh("destroy", name)
            virsh("undefine", name)


# --- figures ------------------------------------------------------------------------------------
def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in 0..1) of `samples`."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def describe_ms(samples: Sequence[float]) -> str:
    return (
        f"p50 {statistics.median(samples) * 1000:7.1f} ms  "
        f"p95 {percentile(samples, 0.95) * 1000:7.1f} ms  "
        f"mean {statistics.fmean(samples) * 1000:7.1f} ms  (n={len(samples)})"
    )


@dataclass
class MemorySampler:
    """Samples the RSS of process trees every `interval` s; keeps each process's peak.

    `roots` maps a kind ("api", "conductor", "compute") to the root pids of that kind; their
    descendants count as the same kind (gunicorn's workers, a worker pool's children).
    """

    roots: dict[str, list[int]]
    interval: float = 0.5
    peaks: dict[str, dict[int, int]] = field(default_factory=dict)
    peak_totals: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        family = process_families(self.roots)
        for kind, procs in family.items():
            total = 0
            per_kind = self.peaks.setdefault(kind, {})
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                total += rss
                per_kind[proc.pid] = max(per_kind.get(proc.pid, 0), rss)
            self.peak_totals[kind] = max(self.peak_totals.get(kind, 0), total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def report(self) -> str:
        lines = []
        for kind in self.roots:
            per_process = self.peaks.get(kind, {})
            if not per_process:
                continue
            largest = max(per_process.values()) / 2**20
            total = self.peak_totals.get(kind, 0) / 2**20
            lines.append(
                f"  {kind:<10} {len(per_process):3d} processes  peak RSS per process "
                f"{largest:7.1f} MiB  peak sum {total:8.1f} MiB"
            )
        return "\n".join(lines)


def process_families(roots: dict[str, list[int]]) -> dict[str, list[Any]]:
    """Each kind's root processes and all their descendants, from one pass over the process
    table (psutil's children() rescans it per call: measurable load while measuring)."""
    import psutil

    children: dict[int, list[Any]] = {}
    for proc in psutil.process_iter(["ppid"]):
        children.setdefault(proc.info["ppid"], []).append(proc)
    families: dict[str, list[Any]] = {}
    for kind, pids in roots.items():
        found = []
        for pid in pids:
            try:
                stack = [psutil.Process(pid)]
            except psutil.NoSuchProcess:
                continue
            while stack:
                proc = stack.pop()
                found.append(proc)
                stack.extend(children.get(proc.pid, []))
        families[kind] = found
    return families


def cpu_seconds(procs: Iterable[Any]) -> float:
    """User + system CPU seconds used so far by the live processes among `procs`."""
    import psutil

    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def postgres_backends(database: str) -> list[Any]:
    """The PostgreSQL backends serving `database` (by their process title)."""
    import psutil

    backends = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if cmdline.startswith("postgres:") and f" {database} " in f"{cmdline} ":
            backends.append(proc)
    return backends


def cpu_by_kind(roots: dict[str, list[int]], database: str) -> dict[str, float]:
    """CPU seconds used so far by each kind of process tree, the bench's own database
    backends ("postgres", those alive now) and this process ("client")."""
    import psutil

    totals = {kind: cpu_seconds(procs) for kind, procs in process_families(roots).items()}
    totals["postgres"] = cpu_seconds(postgres_backends(database))
    own = psutil.Process().cpu_times()
    totals["client"] = own.user + own.system
    machine = psutil.cpu_times()
    totals["machine busy"] = (
        machine.user + machine.nice + machine.system + machine.irq + (machine.softirq)
    )
    return totals


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} CPUs"


# --- callers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchCaller:
    user_id: str
    project_id: str
    token: str


def make_caller(*, project: Any, username: str, role: str) -> BenchCaller:
    """A user with `role` on `project` and a token for it (no password: tokens only)."""
    from apps.identity.services import assign_roles, create_user
    from apps.identity.tokens import issue_token

    user = create_user(username=username, password=None, default_project=project)
    assign_roles(user=user, project=project, roles=[role])
    token = issue_token(user=user, project=project, methods=["password"]).token
    return BenchCaller(user_id=str(user.pk), project_id=str(project.pk), token=token)

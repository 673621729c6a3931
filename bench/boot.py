"""Boot benchmark: servers created concurrently through the API until ACTIVE, then deleted.

    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/boot.py \\
        [--rounds 50,200 --hosts 10 --clients 10]
    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/boot.py --qemu

Creates its own database (``cc_bench_boot``, as bench/api.py does) and uses Redis database
12 (flushed at start) for the broker and cache. Starts the processes as the Procfile does:
the API (gunicorn computecloud.wsgi, gthread, on a free port, ``PUBLIC_URL`` set to it), a
conductor worker (queues conductor and scheduler) and `--hosts` compute workers on libvirt's
in-memory test hypervisor (``test:///default``), one process per host. A project with large
(finite) quotas, the standard flavors and a 16 MiB qcow2 image (public) are set up in-process.

Each round POSTs N servers (m1.nano, ``networks: none``; with ``--networks`` every server on the
project's one network, a /20 made first, so each build binds a port and the host's agent plugs
it into a real bridge, namespace and dnsmasq) from `--clients` threads, polls
``/servers/detail?changes-since=`` until every one is ACTIVE (or ERROR: the round fails),
then DELETEs them all and polls until they are gone. It prints total seconds, servers per
second and p50/p95 from POST to ACTIVE (the server's own ``launched_at``, written by the
conductor when it records ACTIVE, minus the client's clock at POST: same machine), the POST
latency, and the peak RSS per process kind (sampled every 0.2 s with psutil). The first round
includes each host's first image download.

``--qemu --networks`` also times the guest's DHCP lease (its "tinyos eth0:" line) after the
domain was running.

``--qemu`` instead runs one compute worker on ``qemu:///system`` (VIRT_TYPE=qemu) with the
tinyos guest image (tools/guest_image/build.sh), under ``/tmp/cc-vm.lock`` (one real VM at a
time machine-wide): POST→ACTIVE and POST→``login:`` in os-getConsoleOutput, then the same
domain XML (``virsh dumpxml --inactive``) started by ``virsh create`` alone, timed to its
login line in the serial log: the difference is the control plane's overhead.

The database, the processes and their files are removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ROOT,
    BenchCaller,
    BenchCloud,
    MemorySampler,
    bench_database,
    cpu_by_kind,
    load_average,
    make_caller,
    percentile,
    redis_url,
    wait_until,
)

BENCH_DB = "cc_bench_boot"
REDIS_URL = redis_url(12)
V = {"OpenStack-API-Version": "compute 2.96"}
FLAVOR = "0"  # m1.nano: 1 vCPU, 128 MiB, 1 GiB
VM_LOCK = Path("/tmp/cc-vm.lock")  # noqa: S108 - the machine-wide one-real-VM lock
LOGIN_RE = re.compile(r"^tinyos login: ", re.MULTILINE)


# --- set-up ---------------------------------------------------------------------------------------
def _set_up(workdir: Path, image_path: Path | None) -> tuple[BenchCaller, str]:
    """A member of a project with quotas large enough for every round (finite, so that each
    create counts the project's usage as a real one does), the standard flavors and a public
    image."""
    from apps.flavors.services import ensure_standard_flavors
    from apps.identity.services import create_project, ensure_project
    from apps.images.services import ensure_image_from_file
    from apps.quotas.services import update_quotas

    ensure_standard_flavors()
    project = create_project(name="bench-boot")
    update_quotas(
        project=project, limits={"instances": 100_000, "cores": 100_000, "ram": 100_000 * 1024}
    )
    member = make_caller(project=project, username="bench-boot", role="member")
    if image_path is None:
        image_path = workdir / "tiny.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", str(image_path), "16M"], check=True
        )
    image = ensure_image_from_file(
        name=image_path.stem,
        path=image_path,
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    return member, str(image.id)


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _session(token: str) -> Any:
    import requests

    session = requests.Session()
    session.headers.update({"X-Auth-Token": token, **V})
    return session


def _project_network(base: str, token: str) -> str:
    """The project's network with a /20 (room for every round), made through the API."""
    with _session(token) as session:
        network = session.post(
            f"{base}/network/v2.0/networks", json={"network": {"name": "bench"}}, timeout=60
        )
        network.raise_for_status()
        network_id: str = network.json()["network"]["id"]
        subnet = session.post(
            f"{base}/network/v2.0/subnets",
            json={"subnet": {"network_id": network_id, "cidr": "10.240.0.0/20", "ip_version": 4}},
            timeout=60,
        )
        subnet.raise_for_status()
    return network_id


def _warm_up(base: str, token: str, parallel: int) -> None:
    """Load every API worker's code paths and connections before anything is measured."""

    def get(_: int) -> None:
        with _session(token) as session:
            for path in ("servers/detail", "flavors/detail", "limits"):
                session.get(f"{base}/compute/v2.1/{path}", timeout=120)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(get, range(parallel * 2)))


# --- one round ----------------------------------------------------------------------------------
@dataclass
class Round:
    n: int
    posted: dict[str, float] = field(default_factory=dict)  # server id → POST start (epoch s)
    post_latency: list[float] = field(default_factory=list)
    active_at: dict[str, float] = field(default_factory=dict)  # from launched_at (epoch s)
    create_started: float = 0.0
    create_done: float = 0.0  # when the poll saw the last one ACTIVE (epoch s)
    delete_started: float = 0.0
    delete_done: float = 0.0
    polls: int = 0
    # CPU seconds per process kind while creating (POSTs until the last is ACTIVE).
    create_cpu: dict[str, float] = field(default_factory=dict)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _post_all(
    base: str, token: str, image_id: str, result: Round, clients: int, networks: Any
) -> None:
    local = threading.local()
    lock = threading.Lock()

    def post(index: int) -> None:
        session = getattr(local, "session", None) or _session(token)
        local.session = session
        body = {
            "server": {
                "name": f"bench-{index:04d}",
                "imageRef": image_id,
                "flavorRef": FLAVOR,
                "networks": networks,
            }
        }
        started = time.time()
        response = session.post(f"{base}/compute/v2.1/servers", json=body, timeout=120)
        elapsed = time.time() - started
        if response.status_code != 202:
            raise RuntimeError(f"POST /servers: {response.status_code} {response.text[:300]}")
        with lock:
            result.posted[response.json()["server"]["id"]] = started
            result.post_latency.append(elapsed)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, range(result.n)))


def _poll(
    cloud: BenchCloud,
    session: Any,
    base: str,
    result: Round,
    *,
    until: str,
    timeout: float,
    interval: float,
) -> None:
    """Poll /servers/detail?changes-since until every posted server is ACTIVE (until="active")
    or DELETED (until="deleted"); an ERROR fails the round with its fault."""
    pending = set(result.posted)
    since = datetime.fromtimestamp(result.create_started - 5, tz=UTC)
    deadline = time.monotonic() + timeout
    while pending:
        cloud.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {result.n} servers not {until} in {timeout} s")
        asked = time.time()
        response = session.get(
            f"{base}/compute/v2.1/servers/detail",
            params={"changes-since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "limit": 1000},
            timeout=120,
        )
        response.raise_for_status()
        result.polls += 1
        # Later polls ask only for what changed since shortly before this one.
        since = datetime.fromtimestamp(asked - 2, tz=UTC)
        for server in response.json()["servers"]:
            sid = server["id"]
            if sid not in pending:
                continue
            if server["status"] == "ERROR":
                raise RuntimeError(f"server {sid} went to ERROR: {server.get('fault')}")
            if until == "active" and server["status"] == "ACTIVE":
                result.active_at[sid] = _epoch(server["OS-SRV-USG:launched_at"])
                pending.discard(sid)
            elif until == "deleted" and server["status"] == "DELETED":
                pending.discard(sid)
        if pending:
            time.sleep(interval)
    if until == "active":
        result.create_done = time.time()
    else:
        result.delete_done = time.time()


def _delete_all(base: str, token: str, result: Round, clients: int) -> None:
    local = threading.local()

    def delete(server_id: str) -> None:
        session = getattr(local, "session", None) or _session(token)
        local.session = session
        response = session.delete(f"{base}/compute/v2.1/servers/{server_id}", timeout=120)
        if response.status_code != 204:
            raise RuntimeError(f"DELETE {server_id}: {response.status_code} {response.text[:300]}")

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(delete, list(result.posted)))


def _run_round(
    cloud: BenchCloud, caller: BenchCaller, image_id: str, n: int, args: argparse.Namespace
) -> Round:
    base = cloud.public_url
    result = Round(n=n)
    session = _session(caller.token)
    roots = cloud.memory_roots()
    before = cpu_by_kind(roots, BENCH_DB)
    result.create_started = time.time()
    _post_all(base, caller.token, image_id, result, args.clients, args.nics)
    _poll(cloud, session, base, result, until="active", timeout=args.timeout, interval=args.poll)
    after = cpu_by_kind(roots, BENCH_DB)
    result.create_cpu = {kind: after[kind] - before.get(kind, 0.0) for kind in after}
    result.delete_started = time.time()
    _delete_all(base, caller.token, result, args.clients)
    _poll(cloud, session, base, result, until="deleted", timeout=args.timeout, interval=args.poll)
    return result


def _report(result: Round) -> None:
    to_active = [result.active_at[s] - result.posted[s] for s in result.posted]
    last_active = max(result.active_at.values())
    create_s = last_active - result.create_started
    delete_s = result.delete_done - result.delete_started
    print(
        f"n={result.n:4d}  create: {create_s:6.2f} s, {result.n / create_s:6.1f} servers/s; "
        f"POST→ACTIVE p50 {statistics.median(to_active):5.2f} s  "
        f"p95 {percentile(to_active, 0.95):5.2f} s  max {max(to_active):5.2f} s; "
        f"POST latency p50 {statistics.median(result.post_latency) * 1000:5.0f} ms  "
        f"p95 {percentile(result.post_latency, 0.95) * 1000:5.0f} ms"
    )
    cpu = dict(result.create_cpu)
    machine = cpu.pop("machine busy", 0.0)
    ours = sum(cpu.values())
    per_server = "  ".join(f"{kind} {sec / result.n * 1000:5.1f}" for kind, sec in cpu.items())
    print(
        f"        CPU ms per server created: {per_server}; the machine was "
        f"{machine / (create_s * (os.cpu_count() or 1)) * 100:3.0f} % busy, "
        f"{ours / (create_s * (os.cpu_count() or 1)) * 100:3.0f} % by this benchmark"
    )
    print(
        f"        delete: {delete_s:6.2f} s to all gone, {result.n / delete_s:6.1f} servers/s "
        f"({result.polls} status polls in the round)"
    )


# --- real QEMU ------------------------------------------------------------------------------------
@contextmanager
def _vm_lock() -> Iterator[None]:
    """The machine-wide one-real-VM lock, as ``flock /tmp/cc-vm.lock`` takes it."""
    with VM_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _virsh(*args: str, check: bool = True) -> str:
    return subprocess.run(
        ["virsh", "-c", "qemu:///system", *args],
        check=check,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _guest_image() -> Path:
    script = ROOT / "tools" / "guest_image" / "build.sh"
    out = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def _console(session: Any, base: str, server_id: str) -> str:
    response = session.post(
        f"{base}/compute/v2.1/servers/{server_id}/action",
        json={"os-getConsoleOutput": {}},
        timeout=60,
    )
    return response.json().get("output", "") if response.status_code == 200 else ""


LEASE_RE = re.compile(r"tinyos eth0: \S+ router")  # may follow a shell prompt


def _qemu(
    cloud: BenchCloud, caller: BenchCaller, image_id: str, timeout: float, networks: bool
) -> None:
    base = cloud.public_url
    session = _session(caller.token)
    nics: Any = [{"uuid": _project_network(base, caller.token)}] if networks else "none"
    body = {
        "server": {"name": "bench-qemu", "imageRef": image_id, "flavorRef": FLAVOR,
                   "networks": nics}
    }  # fmt: skip
    posted = time.time()
    response = session.post(f"{base}/compute/v2.1/servers", json=body, timeout=120)
    response.raise_for_status()
    server_id = response.json()["server"]["id"]

    def active() -> dict[str, Any] | None:
        cloud.check_alive()
        server = session.get(f"{base}/compute/v2.1/servers/{server_id}", timeout=60).json()
        server = server["server"]
        if server["status"] == "ERROR":
            raise RuntimeError(f"server went to ERROR: {server.get('fault')}")
        return server if server["status"] == "ACTIVE" else None

    server = wait_until(active, timeout=timeout, interval=0.05, what="ACTIVE")
    to_active = _epoch(server["OS-SRV-USG:launched_at"]) - posted
    wait_until(
        lambda: LOGIN_RE.search(_console(session, base, server_id)),
        timeout=timeout,
        interval=0.1,
        what="login: in os-getConsoleOutput",
    )
    to_login = time.time() - posted
    print(f"through the API: POST→ACTIVE {to_active:5.2f} s, POST→login: {to_login:5.2f} s")
    if networks:
        # launched_at is when the conductor recorded the running domain: the lease after it.
        wait_until(
            lambda: LEASE_RE.search(_console(session, base, server_id)),
            timeout=timeout,
            interval=0.1,
            what="the DHCP lease line in os-getConsoleOutput",
        )
        leased = time.time() - posted
        print(
            f"on the project's network: POST→DHCP lease {leased:5.2f} s, "
            f"{leased - to_active:5.2f} s after the domain was running"
        )

    # The same domain, alone: stop the worker so nothing reconciles under us, take the domain's
    # configuration, remove the domain, then time `virsh create` of that XML to its login line.
    domain = f"instance-{server_id}"
    cloud.stop(f"compute-{cloud.hosts[0]}")
    xml = _virsh("dumpxml", "--inactive", domain)
    _virsh("destroy", domain)
    _virsh("undefine", domain, "--nvram", check=False)
    _virsh("undefine", domain, check=False)
    # libvirt's own dump of a domain we defined: trusted input.
    root = ElementTree.fromstring(xml)  # noqa: S314
    source = root.find("./devices/serial[@type='file']/source")
    if source is None:
        raise RuntimeError("the domain has no file serial console to read the login line from")
    log = Path(source.get("path", ""))
    offset = log.stat().st_size if log.exists() else 0
    xml_path = cloud.workdir / "domain.xml"
    xml_path.write_text(xml)
    started = time.time()
    _virsh("create", str(xml_path))
    created = time.time() - started
    try:

        def logged_in() -> bool:
            with log.open("rb") as handle:
                handle.seek(offset)
                return bool(LOGIN_RE.search(handle.read().decode(errors="replace")))

        wait_until(logged_in, timeout=timeout, interval=0.05, what="login: in the serial log")
        alone = time.time() - started
    finally:
        _virsh("destroy", domain, check=False)
    print(
        f"virsh create alone: create returned {created:5.2f} s, login: {alone:5.2f} s\n"
        f"control plane overhead: {to_active - created:+5.2f} s to running, "
        f"{to_login - alone:+5.2f} s to login"
    )


# --- main ---------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", default="50,200", help="servers per round, comma separated")
    parser.add_argument("--hosts", type=int, default=10, help="compute hosts (test:///default)")
    parser.add_argument("--clients", type=int, default=10, help="client threads POSTing")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between status polls")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per phase")
    parser.add_argument("--api-workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--api-threads", type=int, default=4, help="gunicorn threads each")
    parser.add_argument("--conductor-pool", default="threads", help="celery pool of conductor")
    parser.add_argument("--conductor-concurrency", type=int, default=8)
    parser.add_argument("--compute-concurrency", type=int, default=8)
    parser.add_argument("--qemu", action="store_true", help="the real-QEMU measurement instead")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    parser.add_argument(
        "--networks",
        action="store_true",
        help="every server on the project's network (a /20 made first) instead of none",
    )
    args = parser.parse_args()

    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["CELERY_BROKER_URL"] = REDIS_URL
    os.environ["CACHE_URL"] = REDIS_URL
    os.environ["CACHE_KEY_PREFIX"] = "bench-boot"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    Path("/var/lib/computecloud").mkdir(parents=True, exist_ok=True)
    # Not /tmp: libvirt's QEMU must reach the instance files (0755 all the way).
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-boot-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    os.environ["STATE_DIR"] = str(workdir / "state")
    _flush_redis()
    try:
        with bench_database(BENCH_DB, keep=args.keep) as database_url:
            cloud = BenchCloud(workdir=workdir, database_url=database_url, redis_url=REDIS_URL)
            try:
                if args.qemu:
                    with _vm_lock():
                        caller, image_id = _set_up(workdir, _guest_image())
                        cloud.start_api(workers=args.api_workers, threads=args.api_threads)
                        cloud.start_conductor(
                            pool=args.conductor_pool, concurrency=args.conductor_concurrency
                        )
                        cloud.start_compute(
                            f"bench-qemu-{uuid.uuid4().hex[:6]}", libvirt_uri="qemu:///system"
                        )
                        cloud.wait_hosts_ready()
                        _qemu(cloud, caller, image_id, args.timeout, args.networks)
                    return 0
                caller, image_id = _set_up(workdir, None)
                cloud.start_api(workers=args.api_workers, threads=args.api_threads)
                cloud.start_conductor(
                    pool=args.conductor_pool, concurrency=args.conductor_concurrency
                )
                for index in range(args.hosts):
                    cloud.start_compute(f"bench-{index:02d}", concurrency=args.compute_concurrency)
                cloud.wait_hosts_ready()
                _warm_up(cloud.public_url, caller.token, args.api_workers * args.api_threads)
                args.nics = (
                    [{"uuid": _project_network(cloud.public_url, caller.token)}]
                    if args.networks
                    else "none"
                )
                print(
                    f"boot benchmark: {'one network per project' if args.networks else 'no '}"
                    f"{'' if args.networks else 'networks'}, "
                    f"{args.hosts} hosts (test:///default), {args.clients} "
                    f"clients, API {args.api_workers}x{args.api_threads} gthread, conductor "
                    f"{args.conductor_pool} x{args.conductor_concurrency}; {load_average()}"
                )
                with MemorySampler(cloud.memory_roots()) as memory:
                    for n in (int(x) for x in args.rounds.split(",")):
                        _report(_run_round(cloud, caller, image_id, n, args))
                print(f"peak memory ({load_average()}):\n{memory.report()}")
            except BaseException:
                for name in list(cloud.processes):
                    print(f"--- {name}\n{cloud.tail(name, 15)}", file=sys.stderr)
                raise
            finally:
                cloud.stop_all()
    finally:
        _flush_redis()
        if args.keep:
            print(f"kept: database {BENCH_DB}, logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

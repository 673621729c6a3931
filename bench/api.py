"""Servers API benchmark: ``GET /compute/v2.1/servers/detail?limit=1000`` over real HTTP.

    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/api.py \\
        [--servers 10000 --limit 1000 --requests 50] [--profile]

Creates its own database (``cc_bench_api`` next to the one DATABASE_URL names, as the same
role), migrates it, inserts `--servers` servers over two projects (70 % / 30 %) with bulk
inserts: metadata on every third, tags on every fourth, a server group on every tenth, ERROR
with two faults on every twentieth, a few building or stopped, spread over 50 hosts. Then
starts gunicorn (computecloud.wsgi, 2 gthread workers, on a free port) against that database
and, with a member's and an admin's token, measures `--requests` sequential requests after a
warm-up for: the first page, a deep page (``marker`` half-way down the project's list), the
admin's ``all_tenants=1`` first page, and the summary list ``/servers``. Prints p50, p95,
mean, bytes per response and the SQL statements one request runs (counted once in-process).
`--profile` also prints the top functions of one in-process request (cProfile).

The database is dropped at the end, even on failure, unless `--keep`. Redis: database 12.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchCaller,
    bench_database,
    child_env,
    cpu_seconds,
    describe_ms,
    free_port,
    load_average,
    make_caller,
    process_families,
    redis_url,
    start_gunicorn,
    stop_process,
    wait_http,
)

BENCH_DB = "cc_bench_api"
V = "compute 2.96"
HOSTS = [f"bench-host-{i:02d}" for i in range(50)]
FLAVORS = [
    {"name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20},
    {"name": "m1.medium", "vcpus": 2, "ram": 4096, "disk": 40},
    {"name": "m1.large", "vcpus": 4, "ram": 8192, "disk": 80},
]


def _insert_servers(projects: list[Any], user_ids: list[str], count: int) -> None:
    """`count` servers, 70 % in the first project; related rows on some (see the docstring)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.hosts.choices import COMPUTE_BINARY
    from apps.hosts.models import Service
    from apps.servers.choices import PowerState, TaskState, VmState
    from apps.servers.models import (
        InstanceFault,
        Server,
        ServerGroup,
        ServerGroupMember,
        ServerMetadata,
        ServerTag,
    )

    rng = random.Random(42)
    now = timezone.now()
    with transaction.atomic():
        Service.objects.bulk_create(
            Service(host=h, binary=COMPUTE_BINARY, last_seen_up=now) for h in HOSTS
        )
        groups = [
            ServerGroup.objects.create(
                name=f"group-{i}", project=p, user_id=u, policy=ServerGroup.Policy.ANTI_AFFINITY
            )
            for i, (p, u) in enumerate(zip(projects, user_ids, strict=True))
        ]
        rows = []
        for index in range(count):
            which = 0 if index % 10 < 7 else 1
            flavor = FLAVORS[index % len(FLAVORS)]
            host = HOSTS[index % len(HOSTS)]
            vm_state, task_state, power = VmState.ACTIVE, None, PowerState.RUNNING
            if index % 20 == 0:
                vm_state, power = VmState.ERROR, PowerState.NOSTATE
            elif index % 50 == 1:
                vm_state, task_state, power = (
                    VmState.BUILDING,
                    TaskState.SPAWNING,
                    PowerState.NOSTATE,
                )
            elif index % 25 == 2:
                vm_state, power = VmState.STOPPED, PowerState.SHUTDOWN
            name = f"web-{index:05d}"
            rows.append(
                Server(
                    name=name,
                    description=f"bench server {index}" if index % 5 == 0 else None,
                    project=projects[which],
                    user_id=user_ids[which],
                    flavor_id=str(index % len(FLAVORS) + 1),
                    flavor={
                        **flavor,
                        "ephemeral": 0,
                        "swap": 0,
                        "extra_specs": {"hw:cpu_policy": "shared"} if index % 2 else {},
                    },
                    vcpus=flavor["vcpus"],
                    memory_mb=flavor["ram"],
                    root_gb=flavor["disk"],
                    image_ref=str(uuid.UUID(int=rng.getrandbits(128))),
                    host=host,
                    node=host,
                    launched_on=host,
                    availability_zone="nova",
                    vm_state=vm_state,
                    task_state=task_state,
                    power_state=power,
                    hostname=name,
                    key_name="bench-key" if index % 3 == 0 else None,
                    config_drive=True,
                    access_ip_v4=f"192.0.2.{index % 250 + 1}" if index % 7 == 0 else None,
                    addresses={
                        "private": [
                            {
                                "addr": f"10.{index // 65536 % 256}.{index // 256 % 256}."
                                f"{index % 256}",
                                "version": 4,
                                "OS-EXT-IPS:type": "fixed",
                                "OS-EXT-IPS-MAC:mac_addr": f"fa:16:3e:00:{index // 256 % 256:02x}:"
                                f"{index % 256:02x}",
                            }
                        ]
                    },
                    reservation_id=f"r-{index // 4:08x}",
                    launch_index=index % 4,
                    launched_at=None if vm_state == VmState.BUILDING else now,
                )
            )
        servers = Server.objects.bulk_create(rows, batch_size=2000)
        # Spread creation over the last 30 days, so the default order (newest first) and the
        # keyset pages walk a realistic index rather than one timestamp.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE servers_server SET created_at = now() - (id * interval '4 minutes'), "
                "updated_at = now() - (id * interval '2 minutes')"
            )
        ServerMetadata.objects.bulk_create(
            (
                ServerMetadata(server=s, key=k, value=v)
                for s in servers[::3]
                for k, v in (("role", "web"), ("owner", "team-a"), ("env", "prod"))
            ),
            batch_size=5000,
        )
        ServerTag.objects.bulk_create(
            (ServerTag(server=s, tag=t) for s in servers[::4] for t in ("web", "frontend")),
            batch_size=5000,
        )
        InstanceFault.objects.bulk_create(
            (
                InstanceFault(
                    server=s,
                    code=500,
                    message=message,
                    details="Traceback (most recent call last):\n  ...\nBuildAbortException",
                    host=s.host,
                    created_at=now - timedelta(minutes=minutes),
                )
                for s in servers[::20]
                for message, minutes in (("No valid host was found.", 10), ("Build failed", 5))
            ),
            batch_size=5000,
        )
        ServerGroupMember.objects.bulk_create(
            (
                ServerGroupMember(
                    group=groups[0 if s.project_id == projects[0].pk else 1], server=s
                )
                for s in servers[::10]
            ),
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _queries_per_request(caller: BenchCaller, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=caller.token, HTTP_OPENSTACK_API_VERSION=V)
    client.get(path)  # warm: imports, caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(queries)


def _profile(caller: BenchCaller, path: str, top: int = 25) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=caller.token, HTTP_OPENSTACK_API_VERSION=V)
    client.get(path)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(5):
        client.get(path)
    profiler.disable()
    elapsed = (time.perf_counter() - started) / 5
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(f"\nprofile of {path} in-process ({elapsed * 1000:.1f} ms/request under cProfile):")
    print(out.getvalue())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def _measure(
    base: str, caller: BenchCaller, path: str, requests_n: int, server_pid: int
) -> tuple[list[float], int, float]:
    """(latencies, bytes of the last body, server CPU seconds per request)."""
    import requests

    samples: list[float] = []
    size = 0
    cpu = 0.0
    with requests.Session() as session:
        session.headers.update({"X-Auth-Token": caller.token, "OpenStack-API-Version": V})
        for _ in range(5):  # warm-up: both workers, their connections and code paths
            response = session.get(base + path, timeout=120)
            assert response.status_code == 200, response.text[:300]
        cpu = cpu_seconds(process_families({"api": [server_pid]})["api"])
        for _ in range(requests_n):
            t0 = time.perf_counter()
            response = session.get(base + path, timeout=120)
            body = response.content
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, body[:300]
            size = len(body)
        cpu = cpu_seconds(process_families({"api": [server_pid]})["api"]) - cpu
    return samples, size, cpu / max(1, requests_n)


def _deep_marker(caller: BenchCaller, limit: int) -> str:
    """The uuid of the server half-way down the caller's project list (newest first)."""
    from apps.servers.models import Server

    servers = Server.objects.filter(project_id=caller.project_id).order_by("-created_at", "-id")
    middle = max(0, servers.count() // 2 - limit // 2)
    return str(servers.values_list("uuid", flat=True)[middle])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000, help="servers to insert")
    parser.add_argument("--limit", type=int, default=1000, help="page size asked for")
    parser.add_argument("--requests", type=int, default=50, help="measured requests per URL")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--profile", action="store_true", help="cProfile one request")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gunicorn workers gc.freeze() after loading"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    # The benchmarks' own Redis database (nothing is enqueued here; the cache lives there).
    bench_redis = redis_url(12)
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        os.environ[name] = bench_redis
    os.environ["CACHE_KEY_PREFIX"] = "bench-api"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    state_dir = Path(tempfile.mkdtemp(prefix="cc-bench-api-"))
    os.environ["STATE_DIR"] = str(state_dir)
    try:
        with bench_database(BENCH_DB, keep=args.keep) as database_url:
            from django.conf import settings

            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
            from apps.identity.services import create_project

            projects = [create_project(name="bench-a"), create_project(name="bench-b")]
            member = make_caller(project=projects[0], username="bench-member", role="member")
            other = make_caller(project=projects[1], username="bench-other", role="member")
            admin = make_caller(
                project=create_project(name="bench-admin"), username="bench-admin", role="admin"
            )
            started = time.perf_counter()
            _insert_servers(projects, [member.user_id, other.user_id], args.servers)
            print(
                f"servers/detail benchmark: {args.servers} servers inserted in "
                f"{time.perf_counter() - started:.1f} s; limit {args.limit}, {args.requests} "
                f"requests per URL, gunicorn {args.workers} workers"
                f"{' (gc.freeze after start-up)' if args.gc_freeze else ''}; {load_average()}"
            )
            marker = _deep_marker(member, args.limit)
            urls = [
                ("detail, first page", member, f"/compute/v2.1/servers/detail?limit={args.limit}"),
                (
                    "detail, deep page",
                    member,
                    f"/compute/v2.1/servers/detail?limit={args.limit}&marker={marker}",
                ),
                (
                    "detail, admin all_tenants",
                    admin,
                    f"/compute/v2.1/servers/detail?limit={args.limit}&all_tenants=1",
                ),
                ("list (summary)", member, f"/compute/v2.1/servers?limit={args.limit}"),
            ]
            queries = {label: _queries_per_request(who, path) for label, who, path in urls}
            if args.profile:
                _profile(member, urls[0][2])

            port = free_port()
            base = f"http://127.0.0.1:{port}"
            log = state_dir / "gunicorn.log"
            env = child_env({"DATABASE_URL": database_url, "PUBLIC_URL": base})
            server = start_gunicorn(
                port=port,
                workers=args.workers,
                threads=4,
                env=env,
                log=log,
                gc_freeze=args.gc_freeze,
            )
            try:
                wait_http(f"{base}/compute/", process=server, log=log)
                for label, who, path in urls:
                    samples, size, cpu = _measure(base, who, path, args.requests, server.pid)
                    print(
                        f"{label:<26} {describe_ms(samples)}  {size / 1024:7.1f} KiB/response  "
                        f"gunicorn CPU {cpu * 1000:6.1f} ms/request  "
                        f"{queries[label]} queries/request"
                    )
                print(load_average())
            finally:
                stop_process(server)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

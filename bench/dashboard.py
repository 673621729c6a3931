"""Dashboard servers list benchmark: ``GET /servers/`` with 1,000 servers, in-process.

    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/dashboard.py \\
        [--servers 1000 --runs 10] [--profile]

Creates its own database (``cc_bench_dashboard`` next to the one DATABASE_URL names, as the
same role), migrates it, inserts `--servers` servers in one project with bulk inserts (most
ACTIVE, every tenth building at some progress, every twentieth in ERROR, a few stopped or
locked), signs a member in through /login/ with Django's test client and measures, after a
warm-up, `--runs` sequential requests each of: the list page ``/servers/`` (every row, with
its actions), the live rows' poll when nothing changed (the 204) and the poll after a change
(the rows again). Prints p50, p95, mean, the bytes of a response and the SQL statements one
request runs. The addresses column reads the network service's ports; the servers here have
none (the statement is the same one, over an empty set). `--profile` adds a cProfile of one
list request.

The database is dropped at the end, even on failure, unless `--keep`. Redis: database 13.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import bench_database, describe_ms, load_average, redis_url

BENCH_DB = "cc_bench_dashboard"
PASSWORD = "bench-password"  # noqa: S105 - a throw-away database's user
FLAVORS = [
    {"name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20},
    {"name": "m1.medium", "vcpus": 2, "ram": 4096, "disk": 40},
]


def _insert_servers(project: Any, user_id: str, count: int) -> list[Any]:
    from django.db import connection, transaction

    from apps.servers.choices import PowerState, TaskState, VmState
    from apps.servers.models import Server

    rows = []
    for index in range(count):
        flavor = FLAVORS[index % len(FLAVORS)]
        vm_state, task_state, power, progress = VmState.ACTIVE, None, PowerState.RUNNING, 100
        if index % 10 == 1:
            vm_state, task_state, power = VmState.BUILDING, TaskState.SPAWNING, PowerState.NOSTATE
            progress = index % 100
        elif index % 20 == 0:
            vm_state, power = VmState.ERROR, PowerState.NOSTATE
        elif index % 25 == 2:
            vm_state, power = VmState.STOPPED, PowerState.SHUTDOWN
        rows.append(
            Server(
                name=f"web-{index:05d}",
                project=project,
                user_id=user_id,
                flavor_id=str(index % len(FLAVORS) + 1),
                flavor={**flavor, "ephemeral": 0, "swap": 0, "extra_specs": {}},
                vcpus=flavor["vcpus"],
                memory_mb=flavor["ram"],
                root_gb=flavor["disk"],
                image_ref=str(uuid.uuid4()),
                host=f"bench-host-{index % 20:02d}",
                vm_state=vm_state,
                task_state=task_state,
                power_state=power,
                progress=progress,
                locked=index % 50 == 3,
                locked_by="owner" if index % 50 == 3 else None,
                reservation_id=f"r-{index:08x}",
            )
        )
    with transaction.atomic():
        servers = Server.objects.bulk_create(rows, batch_size=2000)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE servers_server SET created_at = now() - (id * interval '7 minutes'), "
                "updated_at = now() - (id * interval '3 minutes')"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return servers


def _signed_in(username: str, project_id: str) -> Any:
    from django.test import Client

    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    client.post("/project/", {"project": project_id, "next": "/"})
    return client


def _measure(client: Any, path: str, runs: int, status: int) -> tuple[list[float], int, int]:
    """(latencies, bytes of the last body, statements of one request)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm-up: imports, template loading, connection
        assert client.get(path).status_code == status
    samples = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        assert response.status_code == status, response.content[:300]
        size = len(response.content)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return samples, size, len(queries)


def _profile(client: Any, path: str, top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(path)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000, help="servers to insert")
    parser.add_argument("--runs", type=int, default=10, help="measured requests per URL")
    parser.add_argument("--profile", action="store_true", help="cProfile one list request")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    bench_redis = redis_url(13)
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        os.environ[name] = bench_redis
    os.environ["CACHE_KEY_PREFIX"] = "bench-dashboard"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    state_dir = Path(tempfile.mkdtemp(prefix="cc-bench-dashboard-"))
    os.environ["STATE_DIR"] = str(state_dir)
    try:
        with bench_database(BENCH_DB, keep=args.keep):
            from django.conf import settings

            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
            from apps.identity.services import assign_roles, create_project, create_user
            from apps.servers import states
            from apps.servers.choices import TaskState

            project = create_project(name="bench-dashboard")
            user = create_user(username="bench-member", password=PASSWORD, default_project=project)
            assign_roles(user=user, project=project, roles=["member"])
            started = time.perf_counter()
            servers = _insert_servers(project, str(user.pk), args.servers)
            print(
                f"dashboard servers list benchmark: {args.servers} servers inserted in "
                f"{time.perf_counter() - started:.1f} s; {args.runs} requests per URL, "
                f"in-process (Django test client); {load_average()}"
            )
            client = _signed_in("bench-member", str(project.pk))
            page = client.get("/servers/").content.decode()
            version = page.split("/servers/rows/?v=", 1)[1].split('"', 1)[0]
            poll = f"/servers/rows/?v={version}"
            results = [("list page /servers/", *_measure(client, "/servers/", args.runs, 200))]
            results.append(("poll, unchanged (204)", *_measure(client, poll, args.runs, 204)))
            # One server moves on: every poll with the old version gets the rows again.
            building = next(s for s in servers if s.task_state == TaskState.SPAWNING)
            states.transition(building, action="bench", progress=99)
            results.append(("poll, after a change", *_measure(client, poll, args.runs, 200)))
            for label, samples, size, queries in results:
                print(
                    f"  {label:24s} {describe_ms(samples)}  "
                    f"{size / 1024:7.0f} KiB  {queries} statements"
                )
            if args.profile:
                _profile(client, "/servers/")
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

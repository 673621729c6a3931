"""Scheduler benchmark: concurrent select_destinations against a synthetic fleet.

    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/scheduler.py \\
        --hosts 1000 --requests 2000 --concurrency 16

Creates its own database (``cc_bench_sched`` next to the one DATABASE_URL names, as the same
role), migrates it, fills it with `--hosts` compute hosts (services, compute nodes, resource
providers with inventories, aggregates and `--existing` allocations per host), then runs
`--requests` single-instance scheduling requests from `--concurrency` threads, each with its
own connection and its own transaction per request (as the conductor runs them). Prints
decisions and claims per second, p50/p95 latency, peak memory, and checks that no provider is
over-committed. The database is dropped at the end unless `--keep`.

The fleet is written with bulk inserts (the inventory service is exercised by the tests);
what is measured is only the scheduling pass and its claim.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "cc_bench_sched"
FLAVORS = [
    {"vcpus": 1, "memory_mb": 2048, "root_gb": 20},
    {"vcpus": 2, "memory_mb": 4096, "root_gb": 40},
    {"vcpus": 4, "memory_mb": 8192, "root_gb": 80},
]


def _database_urls() -> tuple[str, str, str]:
    """(bench database URL, maintenance URL, bench database name)."""
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    base = urlparse(os.environ["DATABASE_URL"])
    bench = urlunparse(base._replace(path=f"/{BENCH_DB}"))
    maintenance = urlunparse(base._replace(path="/postgres", scheme="postgresql"))
    return bench, maintenance, BENCH_DB


def _admin(maintenance_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(statement)


def _create_fleet(hosts: int, existing: int, rng: random.Random) -> None:
    from django.db import transaction
    from django.utils import timezone

    from apps.hosts.choices import AZ_METADATA_KEY, COMPUTE_BINARY
    from apps.hosts.models import Aggregate, AggregateHost, ComputeNode, Service
    from apps.placement.models import Allocation, Inventory, ResourceProvider, Trait

    now = timezone.now()
    with transaction.atomic():
        zones = [
            Aggregate.objects.create(name=f"az{i}", metadata={AZ_METADATA_KEY: f"az{i}"})
            for i in range(3)
        ]
        racks = [
            Aggregate.objects.create(name=f"rack{i}", metadata={"rack": str(i)}) for i in range(20)
        ]
        traits = [Trait.objects.create(name=n) for n in ("HW_CPU_X86_AVX2", "CUSTOM_SSD")]
        services = Service.objects.bulk_create(
            [
                Service(
                    host=f"compute{i:05d}",
                    binary=COMPUTE_BINARY,
                    last_seen_up=now,
                    disabled=(i % 97 == 0),
                )
                for i in range(hosts)
            ],
            batch_size=2000,
        )
        nodes = ComputeNode.objects.bulk_create(
            [
                ComputeNode(
                    service=s,
                    host=s.host,
                    hypervisor_hostname=f"{s.host}.local",
                    hypervisor_version=8_000_000,
                    cpu_info={"arch": "x86_64"},
                    capabilities={"supports_rescue": True},
                )
                for s in services
            ],
            batch_size=2000,
        )
        providers = ResourceProvider.objects.bulk_create(
            [ResourceProvider(uuid=n.uuid, name=n.host, node=n.hypervisor_hostname) for n in nodes],
            batch_size=2000,
        )
        AggregateHost.objects.bulk_create(
            [AggregateHost(aggregate=zones[i % 3], host=p.name) for i, p in enumerate(providers)]
            + [
                AggregateHost(aggregate=racks[i % 20], host=p.name) for i, p in enumerate(providers)
            ],
            batch_size=5000,
        )
        through = ResourceProvider.traits.through
        through.objects.bulk_create(
            [
                through(resourceprovider_id=p.pk, trait_id=traits[i % 2].pk)
                for i, p in enumerate(providers)
            ],
            batch_size=5000,
        )
        inventories = []
        allocations = []
        for provider in providers:
            vcpus = rng.choice([32, 48, 64])
            ram = rng.choice([131072, 262144])
            disk = rng.choice([1000, 2000])
            for rc, total, ratio, reserved in (
                ("VCPU", vcpus, 4.0, 0),
                ("MEMORY_MB", ram, 1.0, 4096),
                ("DISK_GB", disk, 1.0, 0),
            ):
                inventories.append(
                    Inventory(
                        provider=provider,
                        resource_class=rc,
                        total=total,
                        reserved=reserved,
                        max_unit=total,
                        allocation_ratio=ratio,
                    )
                )
            for _ in range(existing):
                consumer = uuid.uuid4()
                flavor = rng.choice(FLAVORS)
                for rc, used in (
                    ("VCPU", flavor["vcpus"]),
                    ("MEMORY_MB", flavor["memory_mb"]),
                    ("DISK_GB", flavor["root_gb"]),
                ):
                    allocations.append(
                        Allocation(
                            provider=provider,
                            consumer_uuid=consumer,
                            resource_class=rc,
                            used=used,
                            project_id="bench",
                            user_id="bench",
                        )
                    )
        Inventory.objects.bulk_create(inventories, batch_size=5000)
        Allocation.objects.bulk_create(allocations, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _run(requests: int, concurrency: int, rng: random.Random) -> dict[str, float]:
    from django.db import connections, transaction

    from apps.scheduler import services
    from apps.scheduler.exceptions import NoValidHost
    from apps.scheduler.request_spec import RequestSpec

    specs = [
        RequestSpec.from_request(flavor=rng.choice(FLAVORS), project_id="bench", user_id="bench")
        for _ in range(requests)
    ]
    latencies: list[float] = []
    outcome = {"claimed": 0, "no_valid_host": 0}
    lock = threading.Lock()
    pending = iter(specs)

    backend_cpu: list[float] = []

    def worker() -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend_pid,) = cursor.fetchone()
        cpu_before = _process_cpu(backend_pid)
        try:
            while True:
                with lock:
                    spec = next(pending, None)
                if spec is None:
                    return
                started = time.perf_counter()
                try:
                    with transaction.atomic():
                        services.select_destinations(spec)
                    key = "claimed"
                except NoValidHost:
                    key = "no_valid_host"
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    outcome[key] += 1
        finally:
            with lock:
                backend_cpu.append(_process_cpu(backend_pid) - cpu_before)
            connections.close_all()

    stop = threading.Event()

    def heartbeats() -> None:
        """The compute hosts' heartbeats, as in production: no host goes down mid-run."""
        from django.utils import timezone

        from apps.hosts.models import Service
        from computecloud.conf import cc_settings

        try:
            while not stop.wait(cc_settings.REPORT_INTERVAL):
                Service.objects.update(last_seen_up=timezone.now())
        finally:
            connections.close_all()

    beat = threading.Thread(target=heartbeats, daemon=True)
    beat.start()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    python_cpu = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    python_cpu = time.process_time() - python_cpu
    stop.set()
    beat.join()
    latencies.sort()
    return {
        "wall": wall,
        "claimed": outcome["claimed"],
        "no_valid_host": outcome["no_valid_host"],
        "decisions_per_s": len(latencies) / wall,
        "claims_per_s": outcome["claimed"] / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        # CPU spent per decision, independent of what else the machine runs.
        "python_cpu_ms": python_cpu / len(latencies) * 1000,
        "postgres_cpu_ms": sum(backend_cpu) / len(latencies) * 1000,
    }


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a local process (a PostgreSQL backend), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # PostgreSQL on another machine: not measured
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--existing", type=int, default=4, help="allocations per host at start")
    parser.add_argument(
        "--max-candidates",
        type=int,
        default=None,
        help="override SCHEDULER['MAX_CANDIDATES'] (0 = every host)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    bench_url, maintenance_url, name = _database_urls()
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")
    _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}"')
    _admin(maintenance_url, f'CREATE DATABASE "{name}"')
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from apps.placement.services import over_committed_providers

        if args.max_candidates is not None:
            settings.COMPUTECLOUD = {
                **settings.COMPUTECLOUD,
                "SCHEDULER": {"MAX_CANDIDATES": args.max_candidates},
            }
            from computecloud.conf import cc_settings

            cc_settings.reload()
        logging_off()
        call_command("migrate", verbosity=0)
        rng = random.Random(args.seed)
        t0 = time.perf_counter()
        _create_fleet(args.hosts, args.existing, rng)
        setup = time.perf_counter() - t0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = _run(args.requests, args.concurrency, rng)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        over = over_committed_providers()
        connections.close_all()
        from computecloud.conf import cc_settings

        print(
            f"hosts={args.hosts} requests={args.requests} concurrency={args.concurrency} "
            f"existing/host={args.existing} "
            f"max_candidates={cc_settings.SCHEDULER['MAX_CANDIDATES']}"
        )
        print(f"fleet set-up          {setup:8.1f} s")
        print(f"wall time             {result['wall']:8.2f} s")
        print(f"claimed               {result['claimed']:8d}")
        print(f"no valid host         {result['no_valid_host']:8d}")
        print(f"decisions/s           {result['decisions_per_s']:8.1f}")
        print(f"claims/s              {result['claims_per_s']:8.1f}")
        print(f"latency p50           {result['p50_ms']:8.1f} ms")
        print(f"latency p95           {result['p95_ms']:8.1f} ms")
        print(f"python CPU/decision   {result['python_cpu_ms']:8.2f} ms (all threads)")
        print(f"postgres CPU/decision {result['postgres_cpu_ms']:8.2f} ms (the workers' backends)")
        cpu = result["python_cpu_ms"] + result["postgres_cpu_ms"]
        ceiling = 1000 / max(result["python_cpu_ms"], cpu / 2)
        print(f"CPU-bound ceiling     {ceiling:8.1f} decisions/s on 2 idle cores")
        print(
            f"peak RSS              {peak / 1024:8.1f} MiB (after set-up {rss_before / 1024:.1f})"
        )
        for key, value in sorted(COUNTER.counts.items()):
            print(f"{key:<22}{value:8d}")
        print(f"over-committed        {len(over):8d} provider classes")
        return 1 if over else 0
    finally:
        if not args.keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: S110 (Django may not be set up yet)
                pass
            _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}"')


class _Counter(logging.Handler):
    """Counts the pass's notable events (claim conflicts, full passes) instead of printing."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        for key, marker in (("claim conflicts", "conflicted"), ("full passes", "full pass")):
            if marker in record.msg:
                self.counts[key] = self.counts.get(key, 0) + 1


COUNTER = _Counter()


def logging_off() -> None:
    """The per-instance INFO lines would dominate the run: count events, print nothing."""
    log = logging.getLogger("apps.scheduler.services")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(COUNTER)


if __name__ == "__main__":
    sys.exit(main())

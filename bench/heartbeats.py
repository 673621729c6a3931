"""Heartbeat benchmark: how many compute hosts' reports one conductor, one Redis and one
PostgreSQL keep up with.

    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/heartbeats.py \\
        [--hosts 1000 --rounds 2 --instances 20 --concurrency 8 --conductors 1] [--tls]

Every compute host sends two messages each REPORT_INTERVAL (10 s by default): its heartbeat to
the conductor queue (liveness, hypervisor facts, power states, instance files) and its
inventory to the scheduler queue. This script plays `--hosts` hosts, publishing both as a
compute worker does (the same `from_compute` functions; facts and inventory of a
test:///default host; `--instances` power states and instance files each, ids the database
does not know, so they are read and left alone).

It runs its own redis-server (a password; `--tls`: TLS only, a throw-away CA made with
openssl) and its own database, and a conductor as the Procfile starts it (threads x
`--concurrency`). A first round registers the hosts (services, compute nodes, providers).
Then the conductor is stopped, `--rounds` rounds are queued, `--conductors` conductor
processes are started and timed from the first message taken to the queues' last: messages
per second, and the CPU per message of the conductors, of the database's backends and of
redis-server. Last,
`redis-benchmark` measures what the same redis-server does with LPUSH and RPOP of messages
that size. Everything is removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchCloud,
    bench_database,
    cpu_seconds,
    free_port,
    load_average,
    postgres_backends,
    process_families,
    stop_process,
    wait_until,
)

BENCH_DB = "cc_bench_heartbeats"
QUEUES = ("conductor", "scheduler")


class PrivateRedis:
    """redis-server on 127.0.0.1 with a password (and with `tls`, on TLS only)."""

    def __init__(self, directory: Path, *, tls: bool) -> None:
        self.directory = directory
        self.port = free_port()
        self.password = uuid.uuid4().hex
        self.tls = tls
        self.ca = directory / "ca.pem"
        lines = [
            "bind 127.0.0.1",
            f"requirepass {self.password}",
            'save ""',
            "appendonly no",
            f"dir {directory}",
        ]
        if tls:
            self._certificates()
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {directory / 'redis.pem'}",
                f"tls-key-file {directory / 'redis.key'}",
                f"tls-ca-cert-file {self.ca}",
                "tls-auth-clients no",
            ]
        else:
            lines.append(f"port {self.port}")
        conf = directory / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        conf.chmod(0o600)
        self.process = subprocess.Popen(
            ["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._answers, timeout=30, what="the bench's redis-server")

    def _certificates(self) -> None:
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=self.directory, check=True, capture_output=True)

        curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
        openssl("req", "-x509", *curve, "-days", "1", "-subj", "/CN=bench CA",
                "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
        openssl("req", *curve, "-subj", "/CN=redis", "-keyout", "redis.key", "-out", "redis.csr")
        (self.directory / "redis.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", "redis.ext",
                "-out", "redis.pem")  # fmt: skip

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        import redis

        options = {"ssl_ca_certs": str(self.ca), "ssl_cert_reqs": "required"} if self.tls else {}
        return redis.Redis.from_url(self.url, **options)

    def _answers(self) -> bool:
        import redis

        if self.process.poll() is not None:
            raise RuntimeError("redis-server exited")
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def benchmark(self, size: int) -> str:
        """redis-benchmark's LPUSH and RPOP of `size`-byte values (8 clients)."""
        args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(self.port), "-a", self.password]
        if self.tls:
            args += ["--tls", "--cacert", str(self.ca)]
        args += ["-t", "lpush,rpop", "-n", "100000", "-c", "8", "-d", str(size), "-q"]
        done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=300)
        rates = re.findall(r"(LPUSH|RPOP): ([\d.]+) requests per second", done.stdout)
        return ", ".join(f"{op} {float(rate):,.0f}/s" for op, rate in rates) or done.stdout

    def stop(self) -> None:
        stop_process(self.process)  # type: ignore[arg-type]


def host_reports(workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The facts and the inventory a test:///default compute host reports."""
    from workers.compute.config import ComputeConfig, load_driver_class

    (workdir / "instances").mkdir(exist_ok=True)
    config = ComputeConfig.from_env(
        {
            "LIBVIRT_URI": "test:///default",
            "REDIS_URL": "redis://unused",
            "INSTANCES_PATH": str(workdir / "instances"),
            "IMAGE_CACHE_PATH": str(workdir / "instances"),
        }
    )
    driver = load_driver_class(config.compute_driver)(config)
    return {**driver.get_host_facts().to_payload(), "tunnel_ip": None}, driver.get_inventory()


def publish_round(
    app: Any, hosts: list[str], instances: dict[str, list[str]], reports: tuple[Any, Any]
) -> None:
    from computecloud.identifiers import compute_node_uuid
    from computecloud.messages import from_compute
    from workers.compute.manager import publish_on

    def send(task: str, *, kwargs: Any, queue: str | None = None) -> None:
        publish_on(app, task, kwargs=kwargs, queue=queue)

    facts, inventory = reports
    for host in hosts:
        from_compute.compute_heartbeat(
            send,
            host=host,
            facts=facts,
            power_states=dict.fromkeys(instances[host], 1),
            observed_at=time.time(),
            instance_files=instances[host],
            storage=None,
        )
        from_compute.update_inventory(
            send,
            compute_node_uuid=compute_node_uuid(host),
            host=host,
            inventories=inventory,
            traits=[],
        )


def queued(client: Any) -> int:
    return sum(int(client.llen(queue)) for queue in QUEUES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="timed report rounds")
    parser.add_argument("--instances", type=int, default=20, help="servers per host")
    parser.add_argument("--concurrency", type=int, default=8, help="conductor threads")
    parser.add_argument("--conductors", type=int, default=1, help="conductor processes")
    parser.add_argument("--tls", action="store_true", help="Redis on TLS only (rediss://)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-heartbeats-"))
    redis_server = PrivateRedis(workdir, tls=args.tls)
    os.environ.update(
        {
            "REDIS_URL": redis_server.url,
            "CELERY_BROKER_URL": redis_server.url,
            "CACHE_URL": redis_server.url.removesuffix("/0") + "/1",
            "CACHE_KEY_PREFIX": "bench-heartbeats",
            "REDIS_TLS_CA": str(redis_server.ca) if args.tls else "",
            "STATE_DIR": str(workdir / "state"),
        }
    )
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    hosts = [f"hb-{index:05d}" for index in range(args.hosts)]
    instances = {host: [str(uuid.uuid4()) for _ in range(args.instances)] for host in hosts}
    reports = host_reports(workdir)
    try:
        with bench_database(BENCH_DB, keep=args.keep) as database_url:
            from celery import Celery

            from computecloud import broker, queues

            app = Celery("bench-heartbeats", set_as_current=False)
            app.conf.update(queues.COMMON_CONFIG)
            app.conf.update(
                broker_url=redis_server.url,
                task_ignore_result=True,
                **broker.celery_config(
                    broker_url=redis_server.url,
                    result_backend=redis_server.url,
                    tls=broker.RedisTLS(ca=os.environ["REDIS_TLS_CA"]),
                ),
            )
            client = redis_server.client()
            cloud = BenchCloud(
                workdir=workdir, database_url=database_url, redis_url=redis_server.url
            )
            try:
                return measure(cloud, app, client, redis_server, hosts, instances, reports, args)
            except BaseException:
                for name in list(cloud.processes):
                    print(f"--- {name}\n{cloud.tail(name, 15)}", file=sys.stderr)
                raise
            finally:
                cloud.stop_all()
                client.close()
    finally:
        redis_server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(
    cloud: BenchCloud,
    app: Any,
    client: Any,
    redis_server: PrivateRedis,
    hosts: list[str],
    instances: dict[str, list[str]],
    reports: tuple[Any, Any],
    args: argparse.Namespace,
) -> int:
    from apps.hosts.models import Service

    print(
        f"heartbeat benchmark: {args.hosts} hosts x {args.rounds} rounds, {args.instances} "
        f"servers each, {args.conductors} conductor(s), threads x{args.concurrency}, Redis "
        f"{'TLS' if args.tls else 'plain'} with a password; {load_average()}"
    )
    # Registration: the first reports create each host's service, node and provider.
    publish_round(app, hosts, instances, reports)
    sizes = {queue: len(client.lindex(queue, 0) or b"") for queue in QUEUES}
    cloud.start_conductor(pool="threads", concurrency=args.concurrency)

    def registered() -> bool:
        cloud.check_alive()
        return queued(client) == 0 and Service.objects.count() == len(hosts)

    wait_until(registered, timeout=600, interval=0.2, what="the hosts' registration")
    cloud.stop("conductor")

    # The timed rounds, queued while no conductor runs, then drained by a fresh one.
    started = time.monotonic()
    for _ in range(args.rounds):
        publish_round(app, hosts, instances, reports)
    published = queued(client)
    publish_seconds = time.monotonic() - started
    conductors = [f"conductor-{index}" for index in range(args.conductors)]
    for name in conductors:
        cloud.start_conductor(pool="threads", concurrency=args.concurrency, name=name)
    wait_until(lambda: cloud.check_alive() or queued(client) < published, timeout=120,
               interval=0.005, what="the conductor's first message")  # fmt: skip
    roots = cloud.memory_roots()
    redis_proc = process_families({"redis": [redis_server.process.pid]})["redis"]

    def cpu() -> dict[str, float]:
        families = process_families(roots)
        return {
            "conductor": cpu_seconds(families["conductor"]),
            "postgres": cpu_seconds(postgres_backends(BENCH_DB)),
            "redis": cpu_seconds(redis_proc),
        }

    before, t0, left = cpu(), time.monotonic(), queued(client)
    wait_until(lambda: cloud.check_alive() or queued(client) == 0, timeout=1200, interval=0.05,
               what="the queues drained")  # fmt: skip
    seconds, after = time.monotonic() - t0, cpu()
    rate = left / seconds
    print(f"message sizes in Redis: heartbeat {sizes['conductor']} B, "
          f"inventory {sizes['scheduler']} B")  # fmt: skip
    print(f"published {published} messages in {publish_seconds:.1f} s (one client thread)")
    print(f"drained {left} messages in {seconds:.1f} s: {rate:,.0f} messages/s, "
          f"{rate / 2:,.0f} host reports/s ({args.hosts} hosts at REPORT_INTERVAL 10 s "
          f"send {args.hosts / 5:,.0f} messages/s)")  # fmt: skip
    per_message = {
        k: (after[k] - before[k]) / left * 1000 for k in ("conductor", "postgres", "redis")
    }
    for kind, ms in per_message.items():
        print(f"CPU per message  {kind:<10} {ms:.2f} ms")
    # One conductor process runs Python on one core at a time (the GIL, threads pool); Redis
    # runs commands on one thread; PostgreSQL spreads over the machine's cores.
    ceilings = {
        "one conductor process (one core)": 1000 / per_message["conductor"],
        "redis-server (one core)": 1000 / per_message["redis"],
        f"PostgreSQL ({os.cpu_count()} cores)": 1000
        * (os.cpu_count() or 1)
        / per_message["postgres"],
    }
    for what, messages in ceilings.items():
        print(f"CPU-bound ceiling  {what:<36} {messages:8,.0f} messages/s = "
              f"{messages * 5:9,.0f} hosts at REPORT_INTERVAL 10 s")  # fmt: skip
    print(f"redis-benchmark, {sizes['conductor']}-byte values: "
          f"{redis_server.benchmark(sizes['conductor'])}")  # fmt: skip
    print(f"done; {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

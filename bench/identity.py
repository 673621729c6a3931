"""Identity benchmark: password token requests per second (``POST /identity/v3/auth/tokens``).

    .venv/bin/python bench/identity.py --tokens 300 --concurrency 4

Creates its own database (``cc_bench_ident`` next to the one DATABASE_URL names, as the same
role), migrates it, creates a project and a member, then measures:

1. in-process (DRF's test client, no network): tokens per second with the verified-password
   memory on (the default ``AUTH_CACHE_TTL``) and off (every request pays the full PBKDF2), and
   the database queries one token request makes;
2. token-authenticated reads (``GET /identity/v3/auth/projects`` with ``X-Auth-Token``);
3. over HTTP against a threaded WSGI server in this process, with `--concurrency` client
   threads (requests sessions, keep-alive), as OSC and Tempest would call it.

Prints the figures; the database is dropped at the end unless `--keep`. Cache keys use the
prefix ``bench-ident`` in the configured Redis cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "cc_bench_ident"
PASSWORD = "bench-password-0123456789"  # noqa: S105  (the bench user's, in its own db)


def _database_urls() -> tuple[str, str]:
    """(bench database URL, maintenance URL)."""
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    base = urlparse(os.environ["DATABASE_URL"])
    bench = urlunparse(base._replace(path=f"/{BENCH_DB}"))
    maintenance = urlunparse(base._replace(path="/postgres", scheme="postgresql"))
    return bench, maintenance


def _admin(maintenance_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(statement)


def _body(username: str, project: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": username, "password": PASSWORD, "domain": {"name": "Default"}}
                },
            },
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
        }
    }


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.1f}/s"


def _latencies(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms"


class _QueryCounter:
    """Counts the SQL statements run on the default connection while installed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _in_process(body: dict[str, Any], tokens: int, uncached: int) -> str:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings
    from rest_framework.test import APIClient

    from apps.identity.passwords import forget

    client = APIClient()
    url = "/identity/v3/auth/tokens?nocatalog"

    def run(count: int) -> tuple[float, list[float]]:
        samples = []
        started = time.perf_counter()
        for _ in range(count):
            t0 = time.perf_counter()
            response = client.post(url, body, format="json")
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 201, response.content
        return time.perf_counter() - started, samples

    forget()
    client.post(url, body, format="json")  # warm: remember the password, load code paths
    queries = _QueryCounter()
    with connection.execute_wrapper(queries):
        client.post(url, body, format="json")
    elapsed, samples = run(tokens)
    print(
        f"token POST, in-process, password remembered: {_rate(tokens, elapsed)}  "
        f"({_latencies(samples)}; {queries.count} queries per token)"
    )

    no_memory = {**getattr(settings, "COMPUTECLOUD", {}), "AUTH_CACHE_TTL": 0}
    with override_settings(COMPUTECLOUD=no_memory):
        elapsed, samples = run(uncached)
    print(
        f"token POST, in-process, full PBKDF2 each:    {_rate(uncached, elapsed)}  "
        f"({_latencies(samples)})"
    )

    secret = client.post(url, body, format="json")["X-Subject-Token"]
    reader = APIClient()
    reader.credentials(HTTP_X_AUTH_TOKEN=secret)
    queries = _QueryCounter()
    with connection.execute_wrapper(queries):
        reader.get("/identity/v3/auth/projects")
    started = time.perf_counter()
    for _ in range(tokens):
        assert reader.get("/identity/v3/auth/projects").status_code == 200
    elapsed = time.perf_counter() - started
    print(
        f"token-authenticated GET, in-process:        {_rate(tokens, elapsed)}  "
        f"({queries.count} queries per request)"
    )
    return secret


def _over_http(body: dict[str, Any], tokens: int, concurrency: int) -> None:
    import requests
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/identity/v3/auth/tokens"
    per_thread = max(1, tokens // concurrency)
    samples: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            for _ in range(per_thread):
                t0 = time.perf_counter()
                response = session.post(url, json=body, timeout=60)
                elapsed = time.perf_counter() - t0
                with lock:
                    samples.append(elapsed)
                    if response.status_code != 201:
                        failures.append(f"{response.status_code} {response.text[:200]}")

    try:
        warm = requests.post(url, json=body, timeout=60)
        assert warm.status_code == 201, warm.text
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
    assert not failures, failures[:3]
    total = per_thread * concurrency
    print(
        f"token POST over HTTP, {concurrency} clients, with catalog: {_rate(total, elapsed)}  "
        f"({_latencies(samples)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=300, help="token requests per run")
    parser.add_argument("--uncached", type=int, default=10, help="requests without memory")
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    bench_url, maintenance_url = _database_urls()
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")
    os.environ["CACHE_KEY_PREFIX"] = "bench-ident"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    _admin(maintenance_url, f'CREATE DATABASE "{BENCH_DB}"')
    try:
        import django
        from django.conf import settings

        django.setup()
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from apps.identity.services import assign_roles, create_project, create_user

        project = create_project(name="bench")
        user = create_user(username="bench-user", password=PASSWORD, default_project=project)
        assign_roles(user=user, project=project, roles=["member"])
        body = _body(user.username, project.name)
        print(f"identity benchmark: {args.tokens} tokens, {os.cpu_count()} CPUs")
        _in_process(body, args.tokens, args.uncached)
        _over_http(body, args.tokens, args.concurrency)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

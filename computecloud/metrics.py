"""Prometheus metrics: their definitions, the task timer and the workers' own endpoint.

Which process serves what (docs/operations.md, "Metrics and alerts"):

- the web (`/metrics`, computecloud/metrics_web.py): API request latency, plus what is read
  at scrape time: queue depth per queue, each service up or down. gunicorn's worker
  processes write into one directory (``PROMETHEUS_MULTIPROC_DIR``, gunicorn.conf.py) that
  the scrape adds up;
- the conductor (its own port, ``METRICS_PORT``): builds by outcome, POST→ACTIVE, scheduler
  decision time, claim conflicts and its task durations;
- each compute worker (its own port, ``METRICS_PORT``): its task durations.

Every endpoint answers only an allowed address or a bearer token (`MetricsAccess`).
Plain Python, no Django: compute workers import it.
"""

import hmac
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

logger = logging.getLogger(__name__)

# Seconds: from a fast API read to a build that waits for an image download.
_API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BUILD_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200)
_TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

API_REQUEST_SECONDS = Histogram(
    "computecloud_api_request_duration_seconds",
    "API and dashboard requests, by method, URL route (the pattern, not the path) and status class",
    ["method", "route", "status"],
    buckets=_API_BUCKETS,
)
BUILDS = Counter(
    "computecloud_builds",
    "Builds that ended, by outcome (active: the server went ACTIVE; error: it went to ERROR)",
    ["outcome"],
)
BUILD_SECONDS = Histogram(
    "computecloud_build_duration_seconds",
    "From the server's creation (the POST) to its ACTIVE transition",
    buckets=_BUILD_BUCKETS,
)
SCHEDULER_DECISION_SECONDS = Histogram(
    "computecloud_scheduler_decision_seconds",
    "One scheduling decision (select_destinations), claims included, by outcome",
    ["outcome"],
    buckets=_API_BUCKETS,
)
CLAIM_CONFLICTS = Counter(
    "computecloud_placement_claim_conflicts",
    "Claims that no longer fit when written (capacity changed under a concurrent request)",
)
TASK_SECONDS = Histogram(
    "computecloud_task_duration_seconds",
    "Celery tasks run by this worker, by task name and final state",
    ["task", "state"],
    buckets=_TASK_BUCKETS,
)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


# --- task durations (Celery's task_prerun and task_postrun, connected by each Celery app) -----

_started: dict[str, float] = {}


def task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.monotonic()


def task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _started.pop(task_id, None) if task_id is not None else None
    if started is None or task is None:
        return
    TASK_SECONDS.labels(task=task.name, state=state or "UNKNOWN").observe(
        time.monotonic() - started
    )


# --- who may read the metrics -------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsAccess:
    """A scrape is allowed from an address in `networks` (reached directly, not through a
    proxy: a request with ``X-Forwarded-For`` came through one, from anyone), or with
    ``Authorization: Bearer <token>``. No networks and no token: nobody."""

    networks: tuple[Network, ...]
    token: str = ""

    @classmethod
    def parse(cls, networks: Iterable[str], token: str = "") -> "MetricsAccess":
        """Raises ValueError on a malformed network."""
        parsed = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip())
        return cls(networks=parsed, token=token)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "MetricsAccess":
        networks = env.get("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128").split(",")
        return cls.parse(networks, env.get("METRICS_TOKEN", ""))

    def allows(self, *, remote_addr: str | None, authorization: str, forwarded: bool) -> bool:
        scheme, _, presented = authorization.partition(" ")
        presented = presented.strip()
        if (
            self.token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(presented.encode(), self.token.encode())
        ):
            return True
        if forwarded or not remote_addr:
            return False
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


# --- a worker's own endpoint ---------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the worker's log


def guarded_app(
    access: MetricsAccess, registry: CollectorRegistry = REGISTRY
) -> Callable[..., Any]:
    """The exposition WSGI app behind `access`: 403 to anyone else."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        allowed = access.allows(
            remote_addr=environ.get("REMOTE_ADDR"),
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            forwarded="HTTP_X_FORWARDED_FOR" in environ,
        )
        if not allowed:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"metrics are not served to this client\n"]
        return metrics_app(environ, start_response)

    return app


def serve_from_env(env: Mapping[str, str] = os.environ) -> ThreadingWSGIServer | None:
    """Start this worker's metrics endpoint on ``METRICS_BIND:METRICS_PORT`` (127.0.0.1 by
    default) in a daemon thread; nothing when METRICS_PORT is unset or 0 (the default)."""
    port = int(env.get("METRICS_PORT") or 0)
    if port <= 0:
        return None
    bind = env.get("METRICS_BIND", "127.0.0.1")

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET

    server = make_server(
        bind, port, guarded_app(MetricsAccess.from_env(env)), Server, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics served on http://%s:%d/metrics", bind, port)
    return server

"""The web process's side of the metrics: request timing, and ``/metrics`` itself.

``/metrics`` serves what this web process (all of gunicorn's worker processes, through
``PROMETHEUS_MULTIPROC_DIR``) recorded, and what is read when it is scraped: the depth of each
Celery queue (Redis) and whether each service is up (the heartbeat rule,
`apps.hosts.models.Service.is_up`). Only allowed addresses, or a bearer token, get it
(`computecloud.metrics.MetricsAccess`; METRICS_ALLOWED_NETWORKS and METRICS_TOKEN): tenants
never do. The conductor's and compute workers' metrics are on their own ports
(computecloud/metrics.py).
"""

import os
import time
from collections.abc import Callable, Iterator

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from computecloud.conf import cc_settings
from computecloud.metrics import API_REQUEST_SECONDS, MetricsAccess, status_class


class RequestMetricsMiddleware:
    """Times every request by its URL route (the pattern: a bounded set of labels, whatever
    the paths) and status class."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        API_REQUEST_SECONDS.labels(
            method=method, route=route, status=status_class(response.status_code)
        ).observe(time.monotonic() - started)
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


# --- read at scrape time ------------------------------------------------------------------------

# Collectors that read the state of the cloud when /metrics is scraped, registered by the apps
# that own that state (apps.hosts: queue depth, services up): this package imports no app.
SCRAPE_TIME_COLLECTORS: list[Collector] = []


class _ThisProcess(Collector):
    """This process's own metrics, when it is the only one (not in multiprocess mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every gunicorn worker's files
    else:
        registry.register(_ThisProcess())
    for collector in SCRAPE_TIME_COLLECTORS:
        registry.register(collector)
    return generate_latest(registry)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape: allowed addresses and the bearer token only, 403 to anyone else
    (a tenant's identity token included)."""
    access = MetricsAccess.parse(cc_settings.METRICS_ALLOWED_NETWORKS, cc_settings.METRICS_TOKEN)
    allowed = access.allows(
        remote_addr=request.META.get("REMOTE_ADDR"),
        authorization=request.headers.get("Authorization", ""),
        forwarded="X-Forwarded-For" in request.headers,
    )
    if not allowed:
        return HttpResponse(
            "metrics are not served to this client\n", status=403, content_type="text/plain"
        )
    response = HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response

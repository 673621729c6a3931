"""os-simple-tenant-usage: what each project's servers used over a period, as Nova reports it.

Usage is derived from the server rows alone (deleted ones included): a server counts from
``launched_at`` (or the period's start) to ``terminated_at`` (or the period's end), in hours,
times its vCPUs, RAM and local disk (root + ephemeral, from the flavor snapshot taken at build).
A server never launched costs nothing. Nothing is written here.

- ``GET /os-simple-tenant-usage``: every project (admins), one summary per project,
  ``server_usages`` only with ``detailed=1``.
- ``GET /os-simple-tenant-usage/{project_id}``: one project (its readers, or admins), always
  detailed; ``{}`` when nothing ran in the period.

``start``/``end`` are naive UTC times (``2026-01-01T00:00:00``, optionally with
microseconds, or with a space instead of the ``T``); both default to now and ``end`` is
clamped to now. From 2.40 the servers are paged (``limit``, ``marker`` = a server uuid), in
Nova's order: project, then server uuid.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.policy import authorize
from apps.servers.models import Server
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.pagination import MAX_LIMIT, after_marker, next_links, parse_limit
from computecloud.api.query import check_query
from computecloud.api.timeformat import iso_micro
from computecloud.exceptions import InvalidInput

# Nova's order for this report (instance_get_active_by_window_joined): project, then uuid.
ORDER = ["project_id", "uuid"]
TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")
TERMINATED = "terminated"


@dataclass(frozen=True)
class Period:
    start: datetime
    stop: datetime


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidInput("Invalid datetime string: Datetime is in invalid format")


def parse_period(params: Any, *, now: datetime) -> Period:
    """The report's period from ``start``/``end`` (Nova's rules: each defaults to now, the
    start must come strictly before the end, the end is clamped to now)."""
    start = _parse_time(params.get("start"))
    stop = _parse_time(params.get("end"))
    # With neither given Nova compares two successive clock readings, so the period is valid
    # and empty; a single clock reading here must not turn that into an error.
    if (start is not None or stop is not None) and not (start or now) < (stop or now):
        raise InvalidInput("Invalid start time. The start time cannot occur after the end time.")
    return Period(start=start or now, stop=min(stop or now, now))


def active_in_period(period: Period) -> QuerySet[Server]:
    """Servers (deleted ones included) that ran at some time within `period`."""
    return Server.with_deleted.filter(
        Q(terminated_at__isnull=True) | Q(terminated_at__gt=period.start),
        launched_at__lt=period.stop,
    )


def servers_in_period(
    period: Period,
    *,
    project_id: str | None = None,
    marker: str | None = None,
    limit: int = MAX_LIMIT,
) -> list[Server]:
    """Servers (deleted ones included) that ran at some time within `period`, in `ORDER`."""
    queryset = active_in_period(period)
    if project_id is not None:
        queryset = queryset.filter(project_id=project_id)
    queryset = queryset.order_by(*ORDER)
    if marker is not None:
        marker_row = _marker_server(marker, project_id=project_id)
        queryset = after_marker(queryset, marker_row, ORDER)
    return list(queryset[:limit])


def _marker_server(marker: str, *, project_id: str | None) -> Server:
    """The marker, among the servers of the report's project (all for the all-projects
    report): another project's server is as unknown here as a made-up id."""
    try:
        uuid.UUID(marker)
    except ValueError:
        raise InvalidInput(f"Marker {marker} could not be found.") from None
    rows = Server.with_deleted.filter(uuid=marker)
    if project_id is not None:
        rows = rows.filter(project_id=project_id)
    row = rows.first()
    if row is None:
        raise InvalidInput(f"Marker {marker} could not be found.")
    return row


def hours_in_period(server: Server, period: Period) -> float:
    """The hours `server` ran within `period` (0 when it never launched or ran outside)."""
    launched, terminated = server.launched_at, server.terminated_at
    if launched is None or launched > period.stop:
        return 0
    if terminated is not None and terminated < period.start:
        return 0
    start = max(launched, period.start)
    stop = min(period.stop, terminated) if terminated is not None else period.stop
    return (stop - start).total_seconds() / 3600.0


def server_usage(server: Server, period: Period, *, now: datetime) -> dict[str, Any]:
    """One ``server_usages`` item. Caller passes servers with ``launched_at`` set."""
    flavor = server.flavor or {}
    assert server.launched_at is not None  # servers_in_period only returns launched ones
    ended = server.terminated_at
    uptime = (ended or now) - server.launched_at
    return {
        "instance_id": str(server.uuid),
        "name": server.name,
        "tenant_id": server.project_id,
        "hours": hours_in_period(server, period),
        "flavor": flavor.get("name", ""),
        "memory_mb": server.memory_mb,
        "local_gb": server.root_gb + int(flavor.get("ephemeral") or 0),
        "vcpus": server.vcpus,
        "started_at": iso_micro(server.launched_at),
        "ended_at": iso_micro(ended),
        "state": TERMINATED if ended is not None else server.vm_state,
        "uptime": max(0, int(uptime.total_seconds())),
    }


def tenant_usages(
    servers: Sequence[Server], period: Period, *, detailed: bool, now: datetime
) -> list[dict[str, Any]]:
    """One summary per project, in the servers' order, totals summed over its servers."""
    summaries: dict[str, dict[str, Any]] = {}
    for server in servers:
        usage = server_usage(server, period, now=now)
        summary = summaries.get(server.project_id)
        if summary is None:
            summary = {
                "tenant_id": server.project_id,
                "total_local_gb_usage": 0,
                "total_vcpus_usage": 0,
                "total_memory_mb_usage": 0,
                "total_hours": 0,
                "start": iso_micro(period.start),
                "stop": iso_micro(period.stop),
            }
            if detailed:
                summary["server_usages"] = []
            summaries[server.project_id] = summary
        hours = usage["hours"]
        summary["total_local_gb_usage"] += usage["local_gb"] * hours
        summary["total_vcpus_usage"] += usage["vcpus"] * hours
        summary["total_memory_mb_usage"] += usage["memory_mb"] * hours
        summary["total_hours"] += hours
        if detailed:
            summary["server_usages"].append(usage)
    return list(summaries.values())


class SimpleTenantUsageViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-simple-tenant-usage:list",
        "retrieve": "os_compute_api:os-simple-tenant-usage:show",
    }

    def _page(self, request: Request, allowed: set[str]) -> tuple[str | None, int]:
        paged = request.version >= (2, 40)
        check_query(request, allowed | ({"limit", "marker"} if paged else set()))
        if not paged:
            return None, MAX_LIMIT
        return request.query_params.get("marker"), parse_limit(request)

    def _links(
        self, request: Request, servers: list[Server], limit: int, path: str, name: str
    ) -> dict[str, Any]:
        if request.version < (2, 40):
            return {}
        return next_links(
            request,
            servers,
            limit,
            base_url=f"{settings.PUBLIC_URL}/compute/v2.1/{path}",
            marker_of=lambda server: server.uuid,
            name=name,
        )

    def list(self, request: Request) -> Response:
        marker, limit = self._page(request, {"start", "end", "detailed"})
        now = timezone.now()
        period = parse_period(request.query_params, now=now)
        detailed = request.query_params.get("detailed", "0") == "1"
        servers = servers_in_period(period, marker=marker, limit=limit)
        body: dict[str, Any] = {
            "tenant_usages": tenant_usages(servers, period, detailed=detailed, now=now)
        }
        body.update(self._links(request, servers, limit, "os-simple-tenant-usage", "tenant_usages"))
        return Response(body)

    def retrieve(self, request: Request, pk: str) -> Response:
        authorize(
            request.auth, "os_compute_api:os-simple-tenant-usage:show", target={"project_id": pk}
        )
        marker, limit = self._page(request, {"start", "end"})
        now = timezone.now()
        period = parse_period(request.query_params, now=now)
        servers = servers_in_period(period, project_id=pk, marker=marker, limit=limit)
        usages = tenant_usages(servers, period, detailed=True, now=now)
        body: dict[str, Any] = {"tenant_usage": usages[0] if usages else {}}
        body.update(
            self._links(request, servers, limit, f"os-simple-tenant-usage/{pk}", "tenant_usage")
        )
        return Response(body)

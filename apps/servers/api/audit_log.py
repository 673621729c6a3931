"""os-instance_usage_audit_log: the state of the instance usage audit, as Nova reports it.

Nova's compute hosts can run a periodic audit of the instances that existed during each
period (a month by default) and record per host how it went; this API reports those records.
Our hosts do not run that audit (Nova's ``instance_usage_audit`` option is off by default
too), so every compute host is listed as not run, with no log entries, and the period's
instance count comes from the server rows (those active at some time within it).

- ``GET /os-instance_usage_audit_log``: the period before now.
- ``GET /os-instance_usage_audit_log/{before}``: the period before ``before``
  (``YYYY-MM-DD HH:MM:SS``, optionally with microseconds).
"""

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
from apps.servers.api.usage import Period, active_in_period
from computecloud.api.microversions import MicroversionedMixin
from computecloud.exceptions import InvalidInput

BEFORE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


def audit_period(before: datetime) -> Period:
    """The last whole month ending at or before `before` (Nova's default audit period)."""
    stop = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (
        stop.replace(year=stop.year - 1, month=12)
        if stop.month == 1
        else stop.replace(month=stop.month - 1)
    )
    return Period(start=start, stop=stop)


def _parse_before(text: str) -> datetime:
    for fmt in BEFORE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidInput(f"Invalid timestamp for date {text}")


def audit_report(before: datetime) -> dict[str, Any]:
    period = audit_period(before)
    hosts = sorted(
        Service.objects.filter(binary=COMPUTE_BINARY).values_list("host", flat=True).distinct()
    )
    return {
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_not_run": len(hosts),
        "num_hosts_running": 0,
        "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        "period_beginning": period.start.strftime("%Y-%m-%d %H:%M:%S"),
        "period_ending": period.stop.strftime("%Y-%m-%d %H:%M:%S"),
        "total_errors": 0,
        "total_instances": active_in_period(period).count(),
    }


class InstanceUsageAuditLogViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-instance-usage-audit-log:list",
        "retrieve": "os_compute_api:os-instance-usage-audit-log:show",
    }

    def list(self, request: Request) -> Response:
        return Response({"instance_usage_audit_logs": audit_report(timezone.now())})

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"instance_usage_audit_log": audit_report(_parse_before(pk))})

"""The project's overview: what it uses of its quotas, as charts and as text.

Usage and limits come from the functions the APIs answer with: /limits and os-quota-sets
(`quotas.get_limits`, `project_usage`), the volume service's /limits (`get_volume_limits`,
`count_volume_usage`) and the network quotas' details (`get_network_limits`,
`count_network_resources`). Each family shows only when its API would answer the caller.
"""

from dataclasses import asdict, dataclass

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from apps.dashboard.access import can, page, show
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.networks.usage import count_network_resources
from apps.quotas import services as quotas
from apps.quotas.api.usage import project_usage
from apps.volumes.services import count_volume_usage


@dataclass(frozen=True)
class Meter:
    """One quota as the page shows it; `limit` -1 is unlimited."""

    key: str
    label: str
    used: int
    limit: int
    unit: str = ""

    @property
    def unlimited(self) -> bool:
        return self.limit < 0

    @property
    def percent(self) -> int:
        if self.limit <= 0:
            return 0 if self.unlimited or not self.used else 100
        return min(100, round(100 * self.used / self.limit))


def compute_meters(project_id: str) -> list[Meter]:
    limits, used = quotas.get_limits(project_id), project_usage(project_id)
    return [
        Meter("instances", "Instances", used["instances"], limits["instances"]),
        Meter("cores", "vCPUs", used["cores"], limits["cores"]),
        Meter("ram", "RAM", used["ram"], limits["ram"], "MiB"),
    ]


def volume_meters(project_id: str) -> list[Meter]:
    limits, used = quotas.get_volume_limits(project_id), count_volume_usage(project_id)
    return [
        Meter("volumes", "Volumes", used["volumes"], limits["volumes"]),
        Meter("gigabytes", "Volume storage", used["gigabytes"], limits["gigabytes"], "GiB"),
    ]


def network_meters(project_id: str) -> list[Meter]:
    limits, used = quotas.get_network_limits(project_id), count_network_resources(project_id)
    return [
        Meter("floatingip", "Floating IPs", used["floatingip"], limits["floatingip"]),
        Meter("network", "Networks", used["network"], limits["network"]),
    ]


@page
def overview(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, "os_compute_api:limits")
    project_id = context.project_id
    meters: list[Meter] = []
    if project_id is not None:
        meters += compute_meters(project_id)
        if can(context, "limits_extension:used_limits"):
            meters += volume_meters(project_id)
        if can(context, "network:get_quota", {"project_id": project_id}):
            meters += network_meters(project_id)
    instances = next((m for m in meters if m.key == "instances"), None)
    return show(
        request,
        context,
        "dashboard/overview.html",
        {
            "title": "Overview",
            "meters": meters,
            "chart_data": [asdict(m) for m in meters],
            "empty": instances is not None and instances.used == 0,
            "can_launch": can(context, "os_compute_api:servers:create"),
            "launch_url": reverse("dashboard:launch"),
        },
    )

"""AvailabilityZoneFilter: the host is in the requested availability zone."""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec


@register_filter
class AvailabilityZoneFilter(BaseHostFilter):
    """Pass hosts in the request's availability zone (from their aggregates; default "nova")."""

    run_once_per_request = True

    def applies_to(self, spec: RequestSpec) -> bool:
        return bool(spec.availability_zone)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return spec.availability_zone in host.availability_zones

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        return f"is not in availability zone {spec.availability_zone}"

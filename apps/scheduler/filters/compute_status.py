"""ComputeFilter: the host's compute service exists, is up and is enabled."""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec


@register_filter
class ComputeFilter(BaseHostFilter):
    """Pass hosts whose compute service is up (recent heartbeat, not forced down) and enabled."""

    run_once_per_request = True

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.has_service and host.service_up and not host.service_disabled

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        if not host.has_service:
            return "has no compute service"
        if not host.service_up:
            return "is down"
        return "is disabled"

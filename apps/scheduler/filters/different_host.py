"""DifferentHostFilter: the ``different_host`` scheduler hint (avoid given instances' hosts)."""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec


@register_filter
class DifferentHostFilter(BaseHostFilter):
    """Pass hosts that run none of the instances named by the different_host hint."""

    run_once_per_request = True

    def applies_to(self, spec: RequestSpec) -> bool:
        return bool(spec.different_host)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.instance_uuids.isdisjoint(spec.different_host)

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        return "runs one of the different_host instances"

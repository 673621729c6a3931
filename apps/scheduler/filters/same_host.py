"""SameHostFilter: the ``same_host`` scheduler hint (land next to given instances)."""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec


@register_filter
class SameHostFilter(BaseHostFilter):
    """Pass hosts that run at least one of the instances named by the same_host hint."""

    run_once_per_request = True

    def applies_to(self, spec: RequestSpec) -> bool:
        return bool(spec.same_host)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return not host.instance_uuids.isdisjoint(spec.same_host)

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        return "does not run any of the same_host instances"

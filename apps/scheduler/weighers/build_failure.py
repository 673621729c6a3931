"""BuildFailureWeigher: avoid hosts whose recent builds failed (consecutive failures)."""

from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, register_weigher


@register_weigher
class BuildFailureWeigher(BaseHostWeigher):
    """Minus the host's consecutive failed builds; the large default multiplier (Nova's 1e6)
    makes any failure outweigh the resource weighers."""

    default_multiplier = 1_000_000.0

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        return -float(host.failed_builds)

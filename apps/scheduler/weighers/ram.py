"""RAMWeigher: free RAM (MEMORY_MB capacity minus allocations); positive multiplier spreads."""

from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, register_weigher


@register_weigher
class RAMWeigher(BaseHostWeigher):
    """Prefer hosts with more free RAM (multiplier > 0: spread; < 0: stack)."""

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.free_ram_mb)

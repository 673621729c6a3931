"""DiskWeigher: free disk (DISK_GB capacity minus allocations)."""

from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, register_weigher


@register_weigher
class DiskWeigher(BaseHostWeigher):
    """Prefer hosts with more free disk (multiplier > 0: spread; < 0: stack)."""

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.free_disk_gb)

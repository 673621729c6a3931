"""IoOpsWeigher: instances busy building, resizing, migrating or snapshotting on the host."""

from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, register_weigher


@register_weigher
class IoOpsWeigher(BaseHostWeigher):
    """The host's number of I/O-heavy operations; the default multiplier -1 prefers idle hosts."""

    default_multiplier = -1.0

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.num_io_ops)

"""ServerGroupSoftAffinityWeigher: prefer hosts with more of a soft-affinity group's members."""

from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import SOFT_AFFINITY, RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, register_weigher


@register_weigher
class ServerGroupSoftAffinityWeigher(BaseHostWeigher):
    """Number of the soft-affinity group's members on the host (more is better)."""

    def applies_to(self, spec: RequestSpec) -> bool:
        return spec.group is not None and spec.group.policy == SOFT_AFFINITY

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        assert spec.group is not None
        return float(spec.group.member_hosts.get(host.host, 0))

"""ServerGroupSoftAntiAffinityWeigher: prefer hosts with fewer of the group's members."""

from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import SOFT_ANTI_AFFINITY, RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, register_weigher


@register_weigher
class ServerGroupSoftAntiAffinityWeigher(BaseHostWeigher):
    """Minus the number of the soft-anti-affinity group's members on the host."""

    def applies_to(self, spec: RequestSpec) -> bool:
        return spec.group is not None and spec.group.policy == SOFT_ANTI_AFFINITY

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        assert spec.group is not None
        return -float(spec.group.member_hosts.get(host.host, 0))

"""ServerGroupAffinityFilter: an affinity group's instances all go to one host."""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import AFFINITY, RequestSpec


@register_filter
class ServerGroupAffinityFilter(BaseHostFilter):
    """Pass any host while the group has no placed member, else only the members' host(s)."""

    def applies_to(self, spec: RequestSpec) -> bool:
        return spec.group is not None and spec.group.policy == AFFINITY

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        assert spec.group is not None
        members = spec.group.member_hosts
        return not members or host.host in members

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        return "is not the host of the affinity group's members"

"""ServerGroupAntiAffinityFilter: an anti-affinity group's instances spread over hosts.

At most ``rules["max_server_per_host"]`` members (default 1) per host. The member hosts are
read under the group lock at the start of the pass (services.select_destinations), so two
concurrent passes for the same group cannot both take the same host.
"""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import ANTI_AFFINITY, RequestSpec


@register_filter
class ServerGroupAntiAffinityFilter(BaseHostFilter):
    """Pass hosts with fewer of the group's members than max_server_per_host (default 1)."""

    def applies_to(self, spec: RequestSpec) -> bool:
        return spec.group is not None and spec.group.policy == ANTI_AFFINITY

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        assert spec.group is not None
        return spec.group.member_hosts.get(host.host, 0) < spec.group.max_server_per_host

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        assert spec.group is not None
        limit = spec.group.max_server_per_host
        noun = "member" if limit == 1 else "members"
        return f"has reached the anti-affinity group's limit of {limit} {noun} per host"

"""AggregateMultiTenancyIsolation: hosts reserved for some projects take only theirs.

A host whose aggregates carry ``filter_tenant_id`` metadata (or keys starting with it, such as
``filter_tenant_id2``; values are comma-separated project ids) accepts instances of those
projects only. Hosts without such metadata accept every project.
"""

from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec

KEY_PREFIX = "filter_tenant_id"


def allowed_projects(host: HostState) -> set[str]:
    allowed: set[str] = set()
    for aggregate in host.aggregates:
        for key, value in aggregate.metadata.items():
            if key.startswith(KEY_PREFIX):
                allowed.update(part.strip() for part in value.split(",") if part.strip())
    return allowed


@register_filter
class AggregateMultiTenancyIsolation(BaseHostFilter):
    """Pass hosts not reserved for specific projects, or reserved for the request's project."""

    run_once_per_request = True

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        allowed = allowed_projects(host)
        return not allowed or spec.project_id in allowed

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        return "is reserved for other projects by its aggregates"

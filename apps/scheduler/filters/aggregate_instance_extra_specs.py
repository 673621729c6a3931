"""AggregateInstanceExtraSpecsFilter: flavor extra specs match the host's aggregate metadata.

Keys scoped ``aggregate_instance_extra_specs:`` and unscoped keys (no ``:``) are looked up in
the metadata of the host's aggregates; some value of the key must satisfy the spec (extra-spec
operators, apps/scheduler/extra_specs_ops.py). Other scopes (``hw:``, ``capabilities:``,
``resources:``, ``trait:``...) are not this filter's.
"""

from apps.scheduler import extra_specs_ops
from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec

SCOPE = "aggregate_instance_extra_specs:"


def _own_specs(spec: RequestSpec) -> list[tuple[str, str, str]]:
    """(metadata key, requirement, original key) for the specs this filter checks."""
    own = []
    for key, requirement in spec.extra_specs.items():
        if key.startswith(SCOPE):
            own.append((key[len(SCOPE) :], requirement, key))
        elif ":" not in key:
            own.append((key, requirement, key))
    return own


@register_filter
class AggregateInstanceExtraSpecsFilter(BaseHostFilter):
    """Pass hosts whose aggregates' metadata satisfies the flavor's aggregate extra specs."""

    run_once_per_request = True

    def applies_to(self, spec: RequestSpec) -> bool:
        return bool(_own_specs(spec))

    def _first_unmet(self, host: HostState, spec: RequestSpec) -> str | None:
        for meta_key, requirement, key in _own_specs(spec):
            values = host.aggregate_values(meta_key)
            if not any(extra_specs_ops.match(value, requirement) for value in values):
                return key
        return None

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return self._first_unmet(host, spec) is None

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        key = self._first_unmet(host, spec)
        return f"has no aggregate metadata matching {key}={spec.extra_specs.get(key or '', '')}"

"""ComputeCapabilitiesFilter: ``capabilities:<fact>[:<key>...]`` extra specs match the host.

The fact is a compute-node fact (``hypervisor_type``, ``hypervisor_version``, ``cpu_info``
with nested keys such as ``capabilities:cpu_info:arch``, ``num_instances``), or else one of the
capabilities the driver declared (``capabilities:supports_rescue``). Values are matched with
the extra-spec operators (apps/scheduler/extra_specs_ops.py). Unscoped keys are left to
AggregateInstanceExtraSpecsFilter.
"""

from collections.abc import Mapping
from typing import Any

from apps.scheduler import extra_specs_ops
from apps.scheduler.filters import BaseHostFilter, register_filter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec

SCOPE = "capabilities:"


def _facts(host: HostState) -> dict[str, Any]:
    return {
        "hypervisor_type": host.hypervisor_type,
        "hypervisor_version": host.hypervisor_version,
        "cpu_info": host.cpu_info,
        "num_instances": host.num_instances,
        "num_io_ops": host.num_io_ops,
        "free_ram_mb": host.free_ram_mb,
        "free_disk_gb": host.free_disk_gb,
        "vcpus_free": host.free_vcpus,
    }


def _lookup(host: HostState, path: list[str]) -> Any:
    facts = _facts(host)
    value: Any = facts[path[0]] if path[0] in facts else host.capabilities.get(path[0])
    for key in path[1:]:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool):
        # Driver capabilities are booleans; extra specs spell them "True"/"False".
        return str(value)
    return value


@register_filter
class ComputeCapabilitiesFilter(BaseHostFilter):
    """Pass hosts whose facts satisfy every ``capabilities:`` extra spec of the flavor."""

    run_once_per_request = True

    def applies_to(self, spec: RequestSpec) -> bool:
        return any(key.startswith(SCOPE) for key in spec.extra_specs)

    def _first_unmet(self, host: HostState, spec: RequestSpec) -> str | None:
        for key, requirement in spec.extra_specs.items():
            if not key.startswith(SCOPE):
                continue
            path = key[len(SCOPE) :].split(":")
            if not extra_specs_ops.match(_lookup(host, path), requirement):
                return key
        return None

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return self._first_unmet(host, spec) is None

    def explain(self, host: HostState, spec: RequestSpec) -> str:
        key = self._first_unmet(host, spec)
        return f"does not match extra spec {key}={spec.extra_specs.get(key or '', '')}"

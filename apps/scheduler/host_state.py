"""HostState: what the scheduling pass knows about one candidate host, in memory.

`build_host_states` makes them for every candidate provider from the candidate queries'
rows (apps/scheduler/candidates.py: resources, service, node facts, aggregate ids, traits,
instance counts, the hinted instances on the host); never from the database, which only
candidates.py reads. After that,
filters and weighers read HostState only (no ORM), and the pass changes it only through
`HostState.consume` after a pick (Nova's consume_from_request), so later instances of the
same request see the capacity the earlier ones took.

See docs/scheduler.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.hosts.choices import AZ_METADATA_KEY, DEFAULT_AVAILABILITY_ZONE
from apps.placement.capacity import ResourceView
from apps.placement.choices import DISK_GB, MEMORY_MB, VCPU
from apps.scheduler.request_spec import RequestSpec


@dataclass(slots=True)
class CandidateRow:
    """One candidate provider as apps/scheduler/candidates.py reads it: its resources (usage
    included) and its host's facts."""

    provider_id: int
    resources: dict[str, ResourceView]
    provider_uuid: str = ""
    host: str = ""
    node: str = ""
    failed_builds: int = 0
    has_service: bool = False
    service_up: bool = False
    disabled: bool = False
    disabled_reason: str = ""
    hypervisor_type: str | None = None
    hypervisor_version: int | None = None
    cpu_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    # The host's aggregates as JSON text, [[uuid, name, metadata], ...] (hosts in the same
    # aggregates share the text, so it is decoded once per pass).
    aggregates: str | None = None
    traits: list[str] = field(default_factory=list)
    num_instances: int = 0
    num_io_ops: int = 0
    # The instances the request's same_host/different_host hints name that are on this host.
    hinted_instances: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class AggregateInfo:
    uuid: str
    name: str
    metadata: Mapping[str, str]


@dataclass(slots=True)
class HostState:
    host: str
    node: str
    provider_id: int
    provider_uuid: str
    resources: dict[str, ResourceView] = field(default_factory=dict)
    service_up: bool = True
    service_disabled: bool = False
    disabled_reason: str = ""
    has_service: bool = True
    availability_zones: frozenset[str] = frozenset({DEFAULT_AVAILABILITY_ZONE})
    aggregates: tuple[AggregateInfo, ...] = ()
    traits: frozenset[str] = frozenset()
    hypervisor_type: str = "QEMU"
    hypervisor_version: int = 0
    cpu_info: Mapping[str, Any] = field(default_factory=dict)
    capabilities: Mapping[str, Any] = field(default_factory=dict)
    num_instances: int = 0
    num_io_ops: int = 0
    # Only the instances the request refers to (same_host/different_host hints) that are on
    # this host, plus the ones placed here by this pass: not every instance of the host.
    instance_uuids: set[str] = field(default_factory=set)
    failed_builds: int = 0

    def __str__(self) -> str:
        return f"({self.host}, {self.node})"

    @property
    def availability_zone(self) -> str:
        """The zone its instances are in (an operator puts a host in one zone only)."""
        return min(self.availability_zones)

    # --- resources ----------------------------------------------------------------------
    def free(self, resource_class: str) -> int:
        view = self.resources.get(resource_class)
        return view.free if view is not None else 0

    @property
    def free_ram_mb(self) -> int:
        return self.free(MEMORY_MB)

    @property
    def free_vcpus(self) -> int:
        return self.free(VCPU)

    @property
    def free_disk_gb(self) -> int:
        return self.free(DISK_GB)

    def first_shortfall(self, resources: Mapping[str, int]) -> str | None:
        """The first requested class this host cannot give, or None if everything fits."""
        for resource_class, amount in resources.items():
            view = self.resources.get(resource_class)
            if view is None or not view.fits(amount):
                return resource_class
        return None

    def consume(self, spec: RequestSpec, instance_uuid: str) -> None:
        """Account for one instance of `spec` placed here by the current pass."""
        for resource_class, amount in spec.resources.items():
            view = self.resources.get(resource_class)
            if view is not None:
                view.used += amount
        self.num_instances += 1
        self.num_io_ops += 1  # it is building
        self.instance_uuids.add(instance_uuid)

    def copy(self) -> HostState:
        """A copy whose mutable parts (usage, instance set) can be consumed independently."""
        clone = copy.copy(self)
        clone.resources = {rc: copy.copy(v) for rc, v in self.resources.items()}
        clone.instance_uuids = set(self.instance_uuids)
        return clone

    # --- facts ----------------------------------------------------------------------------
    def aggregate_values(self, key: str) -> set[str]:
        """Every value of metadata `key` over the host's aggregates (Nova's helper)."""
        return {agg.metadata[key] for agg in self.aggregates if key in agg.metadata}

    @property
    def supported_instances(self) -> list[tuple[str, str, str]]:
        """(architecture, hypervisor type, vm mode) triples the host can run.

        From ``capabilities["supported_instances"]`` when the driver reports it, else the
        CPU architecture with the hypervisor type and "hvm".
        """
        reported = self.capabilities.get("supported_instances")
        if reported:
            return [tuple(str(p).lower() for p in item) for item in reported]  # type: ignore[misc]
        arch = str(self.cpu_info.get("arch") or "").lower()
        if not arch:
            return []
        return [(arch, self.hypervisor_type.lower(), "hvm")]


# --- building from the candidate rows ---------------------------------------------------
def build_host_states(candidates: Sequence[CandidateRow], spec: RequestSpec) -> list[HostState]:
    """HostStates for `candidates` (the candidate queries' rows, which carry the per-host
    facts, the hinted instances included); no query."""
    if not candidates:
        return []
    # Hosts share aggregate sets: each distinct set is decoded, and its zones worked out, once.
    known: dict[str | None, tuple[tuple[AggregateInfo, ...], frozenset[str]]] = {}

    states = []
    for c in candidates:
        aggregates = known.get(c.aggregates)
        if aggregates is None:
            aggregates = known[c.aggregates] = _aggregates(c.aggregates)
        states.append(
            HostState(
                host=c.host,
                node=c.node,
                provider_id=c.provider_id,
                provider_uuid=c.provider_uuid,
                resources=c.resources,
                has_service=c.has_service,
                service_up=c.service_up,
                service_disabled=c.disabled,
                disabled_reason=c.disabled_reason,
                availability_zones=aggregates[1],
                aggregates=aggregates[0],
                traits=frozenset(c.traits),
                hypervisor_type=c.hypervisor_type or "QEMU",
                hypervisor_version=c.hypervisor_version or 0,
                cpu_info=c.cpu_info,
                capabilities=c.capabilities,
                num_instances=c.num_instances,
                num_io_ops=c.num_io_ops,
                instance_uuids=set(c.hinted_instances),
                failed_builds=c.failed_builds,
            )
        )
    return states


def _aggregates(text: str | None) -> tuple[tuple[AggregateInfo, ...], frozenset[str]]:
    infos = tuple(
        AggregateInfo(
            uuid=str(agg_uuid),
            name=name,
            metadata={str(k): str(v) for k, v in (metadata or {}).items()},
        )
        for agg_uuid, name, metadata in (json.loads(text) if text else ())
    )
    zones = frozenset(
        agg.metadata[AZ_METADATA_KEY] for agg in infos if AZ_METADATA_KEY in agg.metadata
    )
    return infos, zones or frozenset({DEFAULT_AVAILABILITY_ZONE})

"""HostState: what the scheduling pass knows about one candidate host, in memory.

`build_host_states` makes them for every candidate provider from a constant number of
queries (services, compute nodes, aggregates, instance counts, traits, and only when the
request refers to instances: those instances' hosts), using ``values()`` rows, never model
instances. After that, filters and weighers read HostState only (no ORM), and the pass
changes it only through `HostState.consume` after a pick (Nova's consume_from_request), so
later instances of the same request see the capacity the earlier ones took.

See docs/scheduler.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apps.hosts.choices import AZ_METADATA_KEY, COMPUTE_BINARY, DEFAULT_AVAILABILITY_ZONE
from apps.scheduler.choices import DISK_GB, MEMORY_MB, VCPU
from apps.scheduler.request_spec import RequestSpec

# Instances in these task states count as I/O-heavy work on their host (Nova's num_io_ops).
IO_TASK_STATES: frozenset[str] = frozenset(
    {
        "spawning",
        "networking",
        "block_device_mapping",
        "resize_migrating",
        "resize_prep",
        "resize_finish",
        "rebuilding",
        "rebuild_spawning",
        "image_snapshot",
        "image_uploading",
        "migrating",
    }
)


@dataclass(slots=True)
class ResourceView:
    """One inventory of a host with its current usage (the sum of its allocations)."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: int = 0
    step_size: int = 1
    used: int = 0

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)

    @property
    def free(self) -> int:
        return self.capacity - self.used

    def fits(self, amount: int) -> bool:
        return (
            self.used + amount <= self.capacity
            and self.min_unit <= amount <= (self.max_unit or self.total)
            and amount % max(self.step_size, 1) == 0
        )


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
        clone = dataclasses.replace(self)
        clone.resources = {rc: dataclasses.replace(v) for rc, v in self.resources.items()}
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


# --- building from the database ----------------------------------------------------------
@dataclass(slots=True)
class CandidateRow:
    """One candidate provider as the candidate query returns it."""

    provider_id: int
    provider_uuid: str
    host: str
    node: str
    failed_builds: int
    resources: dict[str, ResourceView]


def service_is_up(*, forced_down: bool, last_seen_up: datetime | None, now: datetime) -> bool:
    """The rule of `apps.hosts.models.Service.is_up`, on plain values (tested to agree)."""
    from computecloud.conf import cc_settings

    if forced_down or last_seen_up is None:
        return False
    return now - last_seen_up <= timedelta(seconds=cc_settings.SERVICE_DOWN_TIME)


def build_host_states(candidates: Sequence[CandidateRow], spec: RequestSpec) -> list[HostState]:
    """HostStates for `candidates`, from at most six queries whatever their number."""
    from django.db.models import Count, Q
    from django.utils import timezone

    from apps.hosts.models import AggregateHost, ComputeNode, Service
    from apps.scheduler.models import ResourceProvider
    from apps.servers.models import Server

    if not candidates:
        return []
    hosts = [c.host for c in candidates]
    provider_ids = [c.provider_id for c in candidates]
    now = timezone.now()

    services = {
        row["host"]: row
        for row in Service.objects.filter(host__in=hosts, binary=COMPUTE_BINARY).values(
            "host", "disabled", "disabled_reason", "forced_down", "last_seen_up"
        )
    }
    nodes = {
        row["host"]: row
        for row in ComputeNode.objects.filter(host__in=hosts).values(
            "host", "hypervisor_type", "hypervisor_version", "cpu_info", "capabilities"
        )
    }
    aggregates: dict[str, list[AggregateInfo]] = {}
    for row in AggregateHost.objects.filter(host__in=hosts).values(
        "host", "aggregate__uuid", "aggregate__name", "aggregate__metadata"
    ):
        aggregates.setdefault(row["host"], []).append(
            AggregateInfo(
                uuid=str(row["aggregate__uuid"]),
                name=row["aggregate__name"],
                metadata={str(k): str(v) for k, v in (row["aggregate__metadata"] or {}).items()},
            )
        )
    counts = {
        row["host"]: row
        for row in Server.objects.filter(host__in=hosts)
        .values("host")
        .annotate(
            num_instances=Count("id"),
            num_io_ops=Count("id", filter=Q(task_state__in=IO_TASK_STATES)),
        )
        .order_by()
    }
    traits: dict[int, set[str]] = {}
    through = ResourceProvider.traits.through
    for provider_id, name in through.objects.filter(
        resourceprovider_id__in=provider_ids
    ).values_list("resourceprovider_id", "trait__name"):
        traits.setdefault(provider_id, set()).add(name)
    referred = _referred_instances(spec)

    states = []
    for c in candidates:
        service = services.get(c.host)
        node = nodes.get(c.host) or {}
        host_aggregates = tuple(aggregates.get(c.host, ()))
        zones = frozenset(
            agg.metadata[AZ_METADATA_KEY]
            for agg in host_aggregates
            if AZ_METADATA_KEY in agg.metadata
        ) or frozenset({DEFAULT_AVAILABILITY_ZONE})
        count = counts.get(c.host, {})
        states.append(
            HostState(
                host=c.host,
                node=c.node or c.host,
                provider_id=c.provider_id,
                provider_uuid=c.provider_uuid,
                resources=c.resources,
                has_service=service is not None,
                service_up=service is not None
                and service_is_up(
                    forced_down=service["forced_down"],
                    last_seen_up=service["last_seen_up"],
                    now=now,
                ),
                service_disabled=bool(service and service["disabled"]),
                disabled_reason=(service or {}).get("disabled_reason") or "",
                availability_zones=zones,
                aggregates=host_aggregates,
                traits=frozenset(traits.get(c.provider_id, ())),
                hypervisor_type=node.get("hypervisor_type") or "QEMU",
                hypervisor_version=node.get("hypervisor_version") or 0,
                cpu_info=node.get("cpu_info") or {},
                capabilities=node.get("capabilities") or {},
                num_instances=count.get("num_instances", 0),
                num_io_ops=count.get("num_io_ops", 0),
                instance_uuids=set(referred.get(c.host, ())),
                failed_builds=c.failed_builds,
            )
        )
    return states


def _referred_instances(spec: RequestSpec) -> dict[str, set[str]]:
    """Host → the hinted instances (same_host/different_host) on it: one query, if any."""
    from apps.scheduler.models import Allocation
    from apps.servers.models import Server

    wanted = set(spec.same_host) | set(spec.different_host)
    if not wanted:
        return {}
    by_host: dict[str, set[str]] = {}
    for uuid, host in Server.objects.filter(uuid__in=wanted, host__isnull=False).values_list(
        "uuid", "host"
    ):
        by_host.setdefault(host, set()).add(str(uuid))
    # An instance placed by a committed pass whose host column is not written yet.
    for uuid, host in (
        Allocation.objects.filter(consumer_uuid__in=wanted)
        .values_list("consumer_uuid", "provider__name")
        .distinct()
    ):
        by_host.setdefault(host, set()).add(str(uuid))
    return by_host


def clone_all(states: Iterable[HostState]) -> list[HostState]:
    return [state.copy() for state in states]

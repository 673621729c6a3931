"""Builders for scheduler tests: HostStates and specs in memory, hosts in the database.

In-memory builders touch no database, so filter and weigher tests prove that plug-ins never
use the ORM. `create_host` is set-up: it writes Service/ComputeNode rows (apps.hosts models)
and reports the inventory through the scheduler's own service.
"""

import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.hosts.choices import AZ_METADATA_KEY, COMPUTE_BINARY
from apps.hosts.models import Aggregate, AggregateHost, ComputeNode, Service
from apps.placement.capacity import ResourceView
from apps.placement.services import sync_compute_node_inventory
from apps.scheduler.host_state import AggregateInfo, HostState
from apps.scheduler.request_spec import GroupSpec, RequestSpec

PROJECT = "project-a"
USER = "user-a"


def host_state(
    host: str = "host1",
    *,
    vcpus: int = 8,
    memory_mb: int = 16384,
    disk_gb: int = 100,
    used: Mapping[str, int] | None = None,
    aggregates: Iterable[AggregateInfo] = (),
    **fields: Any,
) -> HostState:
    used = dict(used or {})
    resources = {
        "VCPU": ResourceView(total=vcpus, max_unit=vcpus, used=used.get("VCPU", 0)),
        "MEMORY_MB": ResourceView(
            total=memory_mb, max_unit=memory_mb, used=used.get("MEMORY_MB", 0)
        ),
        "DISK_GB": ResourceView(total=disk_gb, max_unit=disk_gb, used=used.get("DISK_GB", 0)),
    }
    return HostState(
        host=host,
        node=f"{host}.node",
        provider_id=abs(hash(host)) % 10_000_000,
        provider_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, host)),
        resources=resources,
        aggregates=tuple(aggregates),
        **fields,
    )


def aggregate(name: str, **metadata: str) -> AggregateInfo:
    return AggregateInfo(
        uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), name=name, metadata=metadata
    )


def make_spec(
    *,
    vcpus: int = 1,
    memory_mb: int = 512,
    root_gb: int = 1,
    extra_specs: Mapping[str, str] | None = None,
    count: int = 1,
    group: GroupSpec | None = None,
    **kwargs: Any,
) -> RequestSpec:
    """A spec without database access (no server_group lookup: pass a GroupSpec)."""
    spec = RequestSpec.from_request(
        flavor={
            "vcpus": vcpus,
            "memory_mb": memory_mb,
            "root_gb": root_gb,
            "extra_specs": dict(extra_specs or {}),
        },
        project_id=kwargs.pop("project_id", PROJECT),
        user_id=kwargs.pop("user_id", USER),
        num_instances=None if kwargs.get("instance_uuids") else count,
        **kwargs,
    )
    return spec.with_group(group) if group is not None else spec


def create_host(
    name: str,
    *,
    vcpus: int = 8,
    memory_mb: int = 16384,
    disk_gb: int = 100,
    up: bool = True,
    disabled: bool = False,
    availability_zone: str | None = None,
    traits: Iterable[str] = (),
    cpu_ratio: float = 1.0,
    ram_ratio: float = 1.0,
    disk_ratio: float = 1.0,
    reserved_ram_mb: int = 0,
    extra_inventory: Mapping[str, dict[str, Any]] | None = None,
    **node_fields: Any,
) -> ComputeNode:
    """A compute host as the hosts app records it, with its inventory reported."""
    service = Service.objects.create(
        host=name,
        binary=COMPUTE_BINARY,
        disabled=disabled,
        last_seen_up=timezone.now() if up else timezone.now() - timedelta(days=1),
    )
    node = ComputeNode.objects.create(
        service=service,
        host=name,
        hypervisor_hostname=f"{name}.node",
        vcpus=vcpus,
        memory_mb=memory_mb,
        local_gb=disk_gb,
        **node_fields,
    )
    if availability_zone:
        agg, _ = Aggregate.objects.get_or_create(
            name=f"az-{availability_zone}",
            defaults={"metadata": {AZ_METADATA_KEY: availability_zone}},
        )
        AggregateHost.objects.create(aggregate=agg, host=name)
    inventories: dict[str, dict[str, Any]] = {
        "VCPU": {"total": vcpus, "allocation_ratio": cpu_ratio, "reserved": 0},
        "MEMORY_MB": {
            "total": memory_mb,
            "allocation_ratio": ram_ratio,
            "reserved": reserved_ram_mb,
        },
        "DISK_GB": {"total": disk_gb, "allocation_ratio": disk_ratio, "reserved": 0},
    }
    inventories.update(extra_inventory or {})
    sync_compute_node_inventory(
        compute_node_uuid=node.uuid, host=name, inventories=inventories, traits=list(traits)
    )
    return node


def create_server(
    *, host: str | None, group: Any = None, project: Any = None, **fields: Any
) -> Any:
    """An instance row (set-up for hints and groups), optionally a member of `group`."""
    from apps.servers.models import Server, ServerGroupMember
    from tests.factories import ProjectFactory

    server = Server.objects.create(
        name=fields.pop("name", "vm"),
        project=project or ProjectFactory(),
        user_id=USER,
        flavor_id="1",
        reservation_id="r-1",
        host=host,
        **fields,
    )
    if group is not None:
        ServerGroupMember.objects.create(group=group, server=server)
    return server


def create_group(policy: str, *, rules: dict[str, Any] | None = None) -> Any:
    from apps.servers.models import ServerGroup
    from tests.factories import ProjectFactory

    return ServerGroup.objects.create(
        name=f"group-{policy}",
        project=ProjectFactory(),
        user_id=USER,
        policy=policy,
        rules=rules or {},
    )

"""What is allocated on each host, for the operators' pages: the hosts app sits below
placement, so its admin reads usage through this front-end module, as the API views do."""

from typing import Any

from django.db.models import OuterRef, QuerySet

from apps.hosts.models import ComputeNode
from apps.placement.services import usage_by_host, used_on_host
from apps.servers.services import running_vms

# Annotation name → the placement resource class it sums.
USED_COLUMNS = {"vcpus_used": "VCPU", "memory_mb_used": "MEMORY_MB", "local_gb_used": "DISK_GB"}


def with_usage(queryset: QuerySet[ComputeNode]) -> QuerySet[ComputeNode]:
    """`queryset` with ``vcpus_used``, ``memory_mb_used`` and ``local_gb_used`` (from the
    allocations on each node's host), still one query."""
    host = OuterRef("host")
    return queryset.annotate(**{name: used_on_host(rc, host) for name, rc in USED_COLUMNS.items()})


def servers_on_host(host: str) -> int:
    """How many live servers are placed on `host` (a service hosting any is not deleted)."""
    return running_vms().get(host, 0)


def hypervisor_statistics() -> dict[str, Any]:
    """os-hypervisors/statistics' figures: the nodes' reported totals, what the allocations
    use of them, and how many servers are placed (the API and the dashboard show these)."""
    usage, vms = usage_by_host(), running_vms()
    nodes = list(ComputeNode.objects.all())

    def used(rc: str) -> int:
        return sum(usage.get(n.host, {}).get(rc, 0) for n in nodes)

    memory = sum(n.memory_mb for n in nodes)
    disk = sum(n.local_gb for n in nodes)
    return {
        "count": len(nodes),
        "vcpus": sum(n.vcpus for n in nodes),
        "memory_mb": memory,
        "local_gb": disk,
        "vcpus_used": used("VCPU"),
        "memory_mb_used": used("MEMORY_MB"),
        "local_gb_used": used("DISK_GB"),
        "free_ram_mb": memory - used("MEMORY_MB"),
        "free_disk_gb": disk - used("DISK_GB"),
        "current_workload": 0,
        "running_vms": sum(vms.values()),
        "disk_available_least": disk - used("DISK_GB"),
    }

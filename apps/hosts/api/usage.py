"""What is allocated on each host, for the operators' pages: the hosts app sits below
placement, so its admin reads usage through this front-end module, as the API views do."""

from django.db.models import OuterRef, QuerySet

from apps.hosts.models import ComputeNode
from apps.placement.services import used_on_host
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

"""Host writes: compute service registration, heartbeats, enable/disable, aggregates."""

import logging
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from apps.hosts.choices import AZ_METADATA_KEY, COMPUTE_BINARY
from apps.hosts.models import Aggregate, AggregateHost, ComputeNode, Service
from computecloud.identifiers import compute_node_uuid
from computecloud.queues import compute_queue

logger = logging.getLogger(__name__)


def ensure_compute_service(*, host: str) -> Service:
    """Register `host` as a compute host (its worker fills in the facts when it starts)."""
    service, created = Service.objects.get_or_create(
        host=host, binary=COMPUTE_BINARY, defaults={"topic": compute_queue(host)}
    )
    if created:
        logger.info("compute host %s registered", host)
    return service


def record_heartbeat(*, host: str, binary: str = COMPUTE_BINARY) -> None:
    updated = Service.objects.filter(host=host, binary=binary).update(last_seen_up=timezone.now())
    if not updated:
        Service.objects.create(host=host, binary=binary, last_seen_up=timezone.now())


def update_compute_node(*, host: str, facts: dict[str, Any]) -> ComputeNode:
    """Record the hypervisor facts a compute host reported (and its heartbeat)."""
    service = ensure_compute_service(host=host)
    Service.objects.filter(pk=service.pk).update(last_seen_up=timezone.now())
    fields = {
        "hypervisor_hostname": facts.get("hostname") or host,
        "hypervisor_type": facts.get("hypervisor_type", "QEMU"),
        "hypervisor_version": int(facts.get("hypervisor_version") or 0),
        "host_ip": facts.get("host_ip"),
        "cpu_info": facts.get("cpu_info") or {},
        "vcpus": int(facts.get("vcpus") or 0),
        "memory_mb": int(facts.get("memory_mb") or 0),
        "local_gb": int(facts.get("local_gb") or 0),
        "capabilities": facts.get("capabilities") or {},
    }
    node, _ = ComputeNode.objects.update_or_create(
        host=host,
        defaults={**fields, "service": service},
        create_defaults={**fields, "service": service, "uuid": compute_node_uuid(host)},
    )
    return node


# --- operator actions on services ---------------------------------------------------------------
def set_service_status(
    *,
    service: Service,
    disabled: bool | None = None,
    reason: str | None = None,
    forced_down: bool | None = None,
) -> Service:
    fields: dict[str, Any] = {}
    if disabled is not None:
        fields["disabled"] = disabled
        fields["disabled_reason"] = (reason or "") if disabled else ""
    if forced_down is not None:
        fields["forced_down"] = forced_down
    if fields:
        Service.objects.filter(pk=service.pk).update(**fields)
        service.refresh_from_db()
        logger.warning("service %s set to %s", service, fields)
    return service


def delete_service(*, service: Service) -> None:
    """Remove a compute service record; refused while instances are still placed on it."""
    from computecloud.exceptions import Conflict

    if service.binary == COMPUTE_BINARY and _instances_on(service.host):
        raise Conflict(
            f"Unable to delete compute service that is hosting instances: {service.host}"
        )
    service.delete()


def _instances_on(host: str) -> bool:
    from django.apps import apps

    server_model = apps.get_model("servers", "Server")
    return bool(server_model.objects.filter(host=host).exists())


# --- aggregates ---------------------------------------------------------------------------------
def create_aggregate(*, name: str, availability_zone: str | None) -> Aggregate:
    from computecloud.exceptions import Conflict

    if Aggregate.objects.filter(name=name).exists():
        raise Conflict(f"Aggregate {name} already exists.")
    metadata = {AZ_METADATA_KEY: availability_zone} if availability_zone else {}
    return Aggregate.objects.create(name=name, metadata=metadata)


def update_aggregate(
    *, aggregate: Aggregate, name: str | None, availability_zone: str | None
) -> Aggregate:
    if name is not None:
        aggregate.name = name
    if availability_zone is not None:
        aggregate.metadata = {**aggregate.metadata, AZ_METADATA_KEY: availability_zone}
    aggregate.save()
    return aggregate


def set_aggregate_metadata(*, aggregate: Aggregate, metadata: dict[str, str | None]) -> Aggregate:
    """Nova's set_metadata: a None value removes the key."""
    merged = dict(aggregate.metadata)
    for key, value in metadata.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    aggregate.metadata = merged
    aggregate.save(update_fields=["metadata", "updated_at"])
    return aggregate


def add_aggregate_host(*, aggregate: Aggregate, host: str) -> Aggregate:
    from computecloud.exceptions import Conflict, NotFound

    if not Service.objects.filter(host=host, binary=COMPUTE_BINARY).exists():
        raise NotFound(f"Compute host {host} could not be found.")
    zone = aggregate.availability_zone
    if zone:
        other = (
            AggregateHost.objects.filter(host=host)
            .exclude(aggregate=aggregate)
            .exclude(aggregate__metadata__availability_zone=zone)
            .filter(aggregate__metadata__has_key=AZ_METADATA_KEY)
            .first()
        )
        if other is not None:
            raise Conflict(
                f"Cannot add host {host} in aggregate {aggregate.pk}: host is already in "
                f"availability zone {other.aggregate.availability_zone}"
            )
    _, created = AggregateHost.objects.get_or_create(aggregate=aggregate, host=host)
    if not created:
        raise Conflict(f"Aggregate {aggregate.pk} already has host {host}.")
    return aggregate


def remove_aggregate_host(*, aggregate: Aggregate, host: str) -> Aggregate:
    from computecloud.exceptions import NotFound

    deleted, _ = AggregateHost.objects.filter(aggregate=aggregate, host=host).delete()
    if not deleted:
        raise NotFound(f"Cannot remove host {host} in aggregate {aggregate.pk}")
    return aggregate


def delete_aggregate(*, aggregate: Aggregate) -> None:
    from computecloud.exceptions import InvalidInput

    if aggregate.hosts.exists():
        raise InvalidInput(f"Aggregate {aggregate.pk} still has hosts.")
    aggregate.delete()


# --- reading: what the admin host views show -------------------------------------------------
# The hypervisor and os-hosts views show what runs on a host and what is allocated there: rows
# of the servers and the scheduler, which sit above this app. Their models are imported here,
# at call time, until those views move up with them (docs/architecture.md, the app order).
def zones_by_host() -> dict[str, str]:
    """Host → the availability zone an aggregate gives it (hosts in none are left out)."""
    rows = AggregateHost.objects.filter(aggregate__metadata__has_key=AZ_METADATA_KEY).values_list(
        "host", "aggregate__metadata__availability_zone"
    )
    return dict(rows)


def usage_by_host() -> dict[str, dict[str, int]]:
    """Used resources per host, summed from the scheduler's allocations."""
    from apps.scheduler.models import Allocation

    usage: dict[str, dict[str, int]] = {}
    rows = Allocation.objects.values("provider__name", "resource_class").annotate(used=Sum("used"))
    for row in rows:
        usage.setdefault(row["provider__name"], {})[row["resource_class"]] = int(row["used"])
    return usage


def running_vms() -> dict[str, int]:
    """Host → how many servers are placed on it."""
    from apps.servers.models import Server

    return dict(
        Server.objects.filter(host__isnull=False)
        .values_list("host")
        .annotate(n=Count("id"))
        .values_list("host", "n")
    )


def servers_on_hosts(hosts: set[str]) -> dict[str, list[dict[str, str]]]:
    """Host → its servers' uuid and name, oldest first."""
    from apps.servers.models import Server

    by_host: dict[str, list[dict[str, str]]] = {}
    rows = Server.objects.filter(host__in=hosts).order_by("created_at")
    for host, server_uuid, name in rows.values_list("host", "uuid", "name"):
        by_host.setdefault(host, []).append({"uuid": str(server_uuid), "name": name})
    return by_host


def usage_by_project_on(host: str) -> list[dict[str, Any]]:
    """The host's servers' vcpus, memory and disk summed per project, by project id."""
    from apps.servers.models import Server

    return list(
        Server.objects.filter(host=host)
        .values("project_id")
        .annotate(cpu=Sum("vcpus"), memory_mb=Sum("memory_mb"), disk_gb=Sum("root_gb"))
        .order_by("project_id")
    )

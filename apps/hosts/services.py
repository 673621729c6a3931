"""Host writes: compute service registration, heartbeats, enable/disable, aggregates."""

import logging
from typing import Any

from django.utils import timezone

from apps.hosts.choices import AZ_METADATA_KEY, COMPUTE_BINARY
from apps.hosts.models import Aggregate, AggregateHost, ComputeNode, Service
from computecloud.exceptions import Conflict, InvalidInput, NotFound
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


def delete_service(*, service: Service, instances_on_host: int) -> None:
    """Remove a compute service record; refused while instances are still placed on it
    (`instances_on_host`: how many the servers app counts there; hosts sit below it)."""
    if service.binary == COMPUTE_BINARY and instances_on_host:
        raise Conflict(
            f"Unable to delete compute service that is hosting instances: {service.host}"
        )
    service.delete()


# --- aggregates ---------------------------------------------------------------------------------
def create_aggregate(*, name: str, availability_zone: str | None) -> Aggregate:
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
    deleted, _ = AggregateHost.objects.filter(aggregate=aggregate, host=host).delete()
    if not deleted:
        raise NotFound(f"Cannot remove host {host} in aggregate {aggregate.pk}")
    return aggregate


def delete_aggregate(*, aggregate: Aggregate) -> None:
    if aggregate.hosts.exists():
        raise InvalidInput(f"Aggregate {aggregate.pk} still has hosts.")
    aggregate.delete()


# --- reading ------------------------------------------------------------------------------------
def zones_by_host() -> dict[str, str]:
    """Host → the availability zone an aggregate gives it (hosts in none are left out)."""
    rows = AggregateHost.objects.filter(aggregate__metadata__has_key=AZ_METADATA_KEY).values_list(
        "host", "aggregate__metadata__availability_zone"
    )
    return dict(rows)

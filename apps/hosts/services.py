"""Host writes: compute service registration, heartbeats, enable/disable, aggregates."""

import logging
from typing import Any

from django.utils import timezone

from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import ComputeNode, Service
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
    node, _ = ComputeNode.objects.update_or_create(host=host, service=service, defaults=fields)
    return node

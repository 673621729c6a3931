"""Host writes: compute service registration, heartbeats, enable/disable, aggregates."""

import logging

from django.utils import timezone

from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
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

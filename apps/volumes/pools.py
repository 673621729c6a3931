"""Where volumes live: the pool each compute host reports with its heartbeats, and the pool
a new volume goes to."""

import logging

from django.db.models import Sum
from django.db.models.functions import Coalesce

from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
from apps.volumes.models import StoragePool
from computecloud.wire import StoragePoolPayload

logger = logging.getLogger(__name__)


def report_pool(*, host: str, storage: StoragePoolPayload | None) -> None:
    """Record the volume pool a host reported. None (a host that keeps no volumes) changes
    nothing: a pool still holding volumes is never forgotten, so they stay findable."""
    if storage is None:
        return
    _, created = StoragePool.objects.update_or_create(
        host=host,
        backend=storage["backend"],
        defaults={
            "shared": bool(storage["shared"]),
            "total_gb": max(0, int(storage["total_gb"])),
            "free_gb": max(0, int(storage["free_gb"])),
        },
    )
    if created:
        logger.info("storage pool %s@%s recorded", host, storage["backend"])


def choose_pool(size: int) -> StoragePool | None:
    """The pool a new volume goes to: among those whose host's compute service is up and
    enabled, the one with the most room left (its size less what its volumes take), if the
    volume fits there; None when there is no such pool."""
    services = Service.objects.filter(binary=COMPUTE_BINARY, disabled=False)
    hosts = {service.host for service in services if service.is_up}
    pools = StoragePool.objects.filter(host__in=hosts).annotate(
        taken=Coalesce(Sum("volumes__size"), 0)
    )
    best = max(pools, key=lambda p: (p.total_gb - p.taken, p.host), default=None)
    if best is None or best.total_gb - best.taken < size:
        return None
    return best

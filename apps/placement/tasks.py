"""Placement's task, on the scheduler queue: compute hosts' inventory reports (nobody waits
on them)."""

import logging
from typing import Any

from celery import shared_task

from apps.placement import services
from computecloud.messages import from_compute

logger = logging.getLogger(__name__)


@shared_task(name=from_compute.UPDATE_INVENTORY)
def update_inventory(
    *,
    compute_node_uuid: str,
    host: str,
    inventories: dict[str, dict[str, Any]],
    traits: list[str],
) -> None:
    """A compute host reported its inventories and traits; record them (idempotent)."""
    services.sync_compute_node_inventory(
        compute_node_uuid=compute_node_uuid, host=host, inventories=inventories, traits=traits
    )
    logger.debug("inventory report of %s recorded", host)

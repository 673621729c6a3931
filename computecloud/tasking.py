"""Enqueueing work: always after the surrounding transaction commits.

A task published inside an open transaction can run before its rows exist, or after a
rollback. Every service therefore enqueues through `enqueue_on_commit`; outside a transaction
the task is sent at once (Django runs on_commit callbacks immediately in autocommit mode).
"""

import logging
from typing import Any

from django.db import transaction

from computecloud.queues import describe_task

logger = logging.getLogger(__name__)


def send_task(name: str, *, kwargs: dict[str, Any], queue: str | None = None) -> None:
    """Publish task `name` now (JSON kwargs); routing by name unless `queue` is given."""
    from computecloud.celery import app

    app.send_task(name, kwargs=kwargs, queue=queue, kwargsrepr=describe_task(kwargs))
    logger.debug("sent %s to %s", name, queue or "its routed queue")


def enqueue_on_commit(name: str, *, kwargs: dict[str, Any], queue: str | None = None) -> None:
    """Publish task `name` once the current transaction commits (dropped on rollback)."""
    transaction.on_commit(lambda: send_task(name, kwargs=kwargs, queue=queue))

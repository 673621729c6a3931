"""Publishing messages from the control plane: always after the surrounding transaction commits.

A task published inside an open transaction can run before its rows exist, or after a
rollback. Every control-plane message is therefore sent through `enqueue_on_commit`, the
`Send` the message modules' send functions take (`computecloud.messages`); outside a
transaction the task is sent at once (Django runs on_commit callbacks immediately in
autocommit mode). The one exception is `call`, for the one message whose answer a request
waits for (console output). Compute workers publish through `ComputeManager.publish`: they
have no database, so nothing to wait for.
"""

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from computecloud import request_ids
from computecloud.queues import describe_task

logger = logging.getLogger(__name__)


def _send_now(name: str, *, kwargs: Mapping[str, Any], queue: str | None = None) -> None:
    """Publish task `name` now (JSON kwargs); routing by name unless `queue` is given."""
    # The Celery app is loaded on first use: importing it configures Celery from Django's
    # settings, which the modules that import this one may be loaded before.
    from computecloud.celery import app

    app.send_task(
        name,
        kwargs=dict(kwargs),
        queue=queue,
        kwargsrepr=describe_task(kwargs),
        headers=request_ids.headers(),
    )
    logger.debug("sent %s to %s", name, queue or "its routed queue")


def enqueue_on_commit(name: str, *, kwargs: Mapping[str, Any], queue: str | None = None) -> None:
    """Publish task `name` once the current transaction commits (dropped on rollback)."""
    transaction.on_commit(lambda: _send_now(name, kwargs=kwargs, queue=queue))


def call(name: str, *, kwargs: Mapping[str, Any], queue: str, timeout: float) -> Any:
    """Publish task `name` now and wait at most `timeout` seconds for its result (Celery's
    TimeoutError beyond). Blocks the caller: only for an answer a request must give, and never
    inside a transaction, whose locks it would hold while it waits."""
    from computecloud.celery import app  # loaded on first use, as in _send_now

    result = app.send_task(
        name,
        kwargs=dict(kwargs),
        queue=queue,
        kwargsrepr=describe_task(kwargs),
        headers=request_ids.headers(),
    )
    try:
        return result.get(timeout=timeout)
    finally:
        # Stop listening for the answer now, not when the result object is collected: after a
        # timeout it lives on in the exception's traceback, and the subscription with it.
        # (the Redis result backend has it; the base class Celery types it with does not)
        result.backend.remove_pending_result(result)  # type: ignore[attr-defined]

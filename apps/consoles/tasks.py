"""Periodic console-token housekeeping, run by the conductor worker (beat schedules it)."""

import logging

from celery import shared_task

from apps.consoles.services import purge_expired_tokens

logger = logging.getLogger(__name__)


@shared_task(name="conductor.purge_console_tokens")
def purge_console_tokens() -> int:
    deleted = purge_expired_tokens()
    if deleted:
        logger.info("purged %s expired console token(s)", deleted)
    return deleted

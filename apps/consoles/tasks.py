"""Periodic console-token housekeeping, run by the conductor worker (beat schedules it)."""

import logging

from celery import shared_task

from apps.consoles.services import purge_expired_tokens
from computecloud.messages import to_conductor

logger = logging.getLogger(__name__)


@shared_task(name=to_conductor.PURGE_CONSOLE_TOKENS)
def purge_console_tokens() -> int:
    deleted = purge_expired_tokens()
    if deleted:
        logger.info("purged %s expired console token(s)", deleted)
    return deleted

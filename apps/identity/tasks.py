"""Periodic identity-token housekeeping, run by the conductor worker (beat schedules it)."""

import logging

from celery import shared_task

from apps.identity.tokens import purge_tokens
from computecloud.messages import to_conductor

logger = logging.getLogger(__name__)


@shared_task(name=to_conductor.PURGE_IDENTITY_TOKENS)
def purge_identity_tokens() -> int:
    deleted = purge_tokens()
    if deleted:
        logger.info("purged %s expired or revoked identity token(s)", deleted)
    return deleted

"""Failed-password throttling, per (user as named in the request, source address).

Counts live in the shared Django cache (Redis), so every web process sees the same count.
After ``AUTH_FAILURES_ALLOWED`` failures within ``AUTH_FAILURE_WINDOW`` seconds (a fixed
window opened by the first failure) further attempts from that address for that user are
refused with 429, the right password included: otherwise a guesser would learn when they hit
it. A success before the lock clears the count; successes are never counted.

This module only counts; `apps.identity.services.issue_password_token` decides when to ask.
"""

import hashlib

from django.core.cache import cache

from computecloud.conf import cc_settings
from computecloud.exceptions import TooManyRequests


class TooManyAuthFailures(TooManyRequests):
    msg_fmt = (
        "Too many failed authentication attempts for this user from your address; "
        "retry in %(retry_after)s seconds."
    )

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after


def _key(*, user_ref: str, source: str) -> str:
    # Hashed so that user names (any characters, any length) make valid, bounded cache keys.
    digest = hashlib.sha256(f"{user_ref}\0{source}".encode()).hexdigest()
    return f"identity:auth-failures:{digest}"


def check_not_locked(*, user_ref: str, source: str) -> int:
    """Raise `TooManyAuthFailures` when this user and address used up their failures;
    otherwise return the failures counted so far."""
    failures: int = cache.get(_key(user_ref=user_ref, source=source), 0)
    if failures >= cc_settings.AUTH_FAILURES_ALLOWED:
        raise TooManyAuthFailures(retry_after=cc_settings.AUTH_FAILURE_WINDOW)
    return failures


def record_failure(*, user_ref: str, source: str) -> int:
    """Count one failure; the window starts at the first. Returns the count so far."""
    key = _key(user_ref=user_ref, source=source)
    # add() is a no-op when the key exists, so the window is not extended by later failures.
    cache.add(key, 0, timeout=cc_settings.AUTH_FAILURE_WINDOW)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr(): this failure opens a new window
        cache.add(key, 1, timeout=cc_settings.AUTH_FAILURE_WINDOW)
        return 1


def clear_failures(*, user_ref: str, source: str) -> None:
    cache.delete(_key(user_ref=user_ref, source=source))

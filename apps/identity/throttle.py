"""Failed-password throttling, per (user, source address).

Counts live in the shared Django cache (Redis), so every web process sees the same count.
After ``AUTH_FAILURES_ALLOWED`` failures within ``AUTH_FAILURE_WINDOW`` seconds (a fixed
window opened by the first failure) further attempts from that address for that user are
refused with 429, the right password included: otherwise a guesser would learn when they hit
it. A success before the lock clears the count; successes are never counted.

The subject counted is the user the request resolved to (by id, whatever spelling named
them, and whichever entry point was used: token requests, the admin and API sign-in pages);
only a name that matches no user is counted as spelled.

This module only counts; `apps.identity.services.authenticate_password` decides when to ask.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

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


def source_address(meta: Mapping[str, Any]) -> str:
    """The address a request is counted against: the peer address, never X-Forwarded-For
    (a client may write any header it likes)."""
    return str(meta.get("REMOTE_ADDR") or "-")


def user_subject(user_id: str) -> str:
    """What failures against an existing user count as, however the request named them."""
    return f"user:{user_id}"


def _key(*, subject: str, source: str) -> str:
    # Hashed so that user names (any characters, any length) make valid, bounded cache keys.
    digest = hashlib.sha256(f"{subject}\0{source}".encode()).hexdigest()
    return f"identity:auth-failures:{digest}"


def check_not_locked(*, subject: str, source: str) -> int:
    """Raise `TooManyAuthFailures` when this user and address used up their failures;
    otherwise return the failures counted so far."""
    failures: int = cache.get(_key(subject=subject, source=source), 0)
    if failures >= cc_settings.AUTH_FAILURES_ALLOWED:
        raise TooManyAuthFailures(retry_after=cc_settings.AUTH_FAILURE_WINDOW)
    return failures


def record_failure(*, subject: str, source: str) -> int:
    """Count one failure; the window starts at the first. Returns the count so far."""
    key = _key(subject=subject, source=source)
    # add() is a no-op when the key exists, so the window is not extended by later failures.
    cache.add(key, 0, timeout=cc_settings.AUTH_FAILURE_WINDOW)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr(): this failure opens a new window
        cache.add(key, 1, timeout=cc_settings.AUTH_FAILURE_WINDOW)
        return 1


def clear_failures(*, subject: str, source: str) -> None:
    cache.delete(_key(subject=subject, source=source))

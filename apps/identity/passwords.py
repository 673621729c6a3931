"""Password verification, with a short per-process memory of recent successes.

Django's hasher is slow on purpose (PBKDF2, about 0.3 s a check here), and clients ask for a
token for every command; Tempest asks hundreds of times per run with the same few passwords.
So after a successful check this process remembers, for ``AUTH_CACHE_TTL`` seconds, an HMAC
of the password under ``SECRET_KEY`` together with the stored hash it was checked against. A
later request whose HMAC matches and whose user still has that same stored hash is accepted
without re-hashing. What is remembered:

- lives only in this process's memory (never the shared cache, never the database);
- cannot be reversed without ``SECRET_KEY``, which the process holds anyway;
- dies with a password change (the stored hash differs) and after the TTL;
- is never consulted for a failure: a wrong password always pays the full hash.

Whether the user is enabled, and may be scoped where asked, is checked by the caller on every
request, so disabling a user takes effect at once.
"""

import hashlib
import hmac
import threading
import time

from django.conf import settings

from apps.identity.models import User
from computecloud.conf import cc_settings

# Bounded so that a flood of distinct users cannot grow the process without limit.
MAX_REMEMBERED = 10_000

_lock = threading.Lock()
# user id → (stored password hash, HMAC of the password, monotonic expiry)
_remembered: dict[str, tuple[str, bytes, float]] = {}


def _mac(user_id: str, password: str) -> bytes:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{user_id}\0{password}".encode(), hashlib.sha256).digest()


def verify_password(user: User, password: str) -> bool:
    """Whether `password` is `user`'s password (users without a usable one never match)."""
    if not user.has_usable_password():
        return False
    ttl = cc_settings.AUTH_CACHE_TTL
    mac = _mac(user.pk, password)
    if ttl > 0:
        entry = _remembered.get(user.pk)
        if (
            entry is not None
            and entry[0] == user.password
            and entry[2] > time.monotonic()
            and hmac.compare_digest(entry[1], mac)
        ):
            return True
    # check_password() re-hashes and saves when the hasher's parameters changed.
    if not user.check_password(password):
        return False
    if ttl > 0:
        with _lock:
            if len(_remembered) >= MAX_REMEMBERED:
                _remembered.pop(next(iter(_remembered)))  # the oldest insertion
            _remembered.pop(user.pk, None)  # re-inserted last: insertion order is age order
            _remembered[user.pk] = (user.password, mac, time.monotonic() + ttl)
    return True


def forget(user_id: str | None = None) -> None:
    """Drop what this process remembers (for one user, or everyone)."""
    with _lock:
        if user_id is None:
            _remembered.clear()
        else:
            _remembered.pop(user_id, None)

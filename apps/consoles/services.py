"""Console tokens: every write, and the one read the console proxy makes.

A token is 256 random bits given to the caller once, inside the console URL, and stored only
as its SHA-256. It is bound to one instance and to the VNC address that instance's host
reported (``Server.console``), never to anything a client sends, and it expires after
``CONSOLE_TOKEN_TTL`` seconds. `resolve_token` (the proxy's lookup) also refuses a token whose
instance is gone or whose console address has changed since it was made: a reboot or a move
may give the guest another port, which another guest may later take, so a stale token must
reach nothing. The proxy itself is `apps.consoles.proxy`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.utils import timezone

from apps.consoles.choices import (
    CONSOLE_REJECTED_TASK_STATES,
    CONSOLE_VM_STATES,
    NOVNC_PAGE,
    SERVED,
    TYPES_BY_PROTOCOL,
)
from apps.consoles.exceptions import ConsoleTypeInvalid, ConsoleTypeUnavailable, InstanceNotReady
from apps.consoles.models import ConsoleToken
from apps.identity.context import RequestContext
from apps.servers.exceptions import ServerNotFound
from apps.servers.models import Server
from apps.servers.states import ServerInvalidState
from computecloud.conf import cc_settings

logger = logging.getLogger(__name__)

# 32 bytes = 256 bits, URL-safe base64 without padding: 43 characters.
TOKEN_BYTES = 32
# Anything longer than this is not one of our tokens; refuse it before hashing.
MAX_TOKEN_LENGTH = 128


def hash_token(secret: str) -> str:
    """What is stored for a token: hex SHA-256 (the secret has 256 bits, so no salt or slow
    hash is needed: there is nothing to guess)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def console_url(secret: str) -> str:
    """The noVNC URL for a token, in Nova's form: ``<base>?path=%3Ftoken%3D<token>``.

    noVNC (1.1+) opens its websocket at ``/`` + the ``path`` parameter, so the token reaches
    the proxy as ``/?token=...``. ``CONSOLE_PROXY_URL`` is the proxy's base URL; a base that
    already names a page (Nova's ``novncproxy_base_url`` style) is used as it is.
    """
    base = cc_settings.CONSOLE_PROXY_URL.rstrip("/")
    if not urlsplit(base).path.endswith(".html"):
        base = f"{base}/{NOVNC_PAGE}"
    return f"{base}?{urlencode({'path': f'?token={secret}'})}"


def _console_address(console: Any) -> tuple[str, int] | None:
    """(host, port) from ``Server.console`` as the host reported it, or None if unusable."""
    if not isinstance(console, dict):
        return None
    host, raw_port = console.get("host"), console.get("port")
    if not isinstance(host, str) or not host or not isinstance(raw_port, int | str):
        return None
    try:
        port = int(raw_port)
    except ValueError:
        return None
    if not 0 < port < 65536:
        return None
    return host, port


def _check_console_state(server: Server) -> tuple[str, int]:
    """The instance's VNC address, or the 409 Nova answers when it has no console now."""
    if not server.host:
        raise InstanceNotReady(instance_id=server.uuid)
    if server.vm_state not in CONSOLE_VM_STATES:
        raise ServerInvalidState(
            action="get_vnc_console", uuid=server.uuid, attr="vm_state", state=server.vm_state
        )
    if server.task_state in CONSOLE_REJECTED_TASK_STATES:
        raise ServerInvalidState(
            action="get_vnc_console", uuid=server.uuid, attr="task_state", state=server.task_state
        )
    address = _console_address(server.console)
    if address is None:
        raise InstanceNotReady(instance_id=server.uuid)
    return address


def create_console_token(
    *, context: RequestContext, server: Server, console_type: str
) -> tuple[str, ConsoleToken]:
    """Make a token for `server`'s console; return the secret (shown once) and the row.

    The instance row is locked while the token is written, so a concurrent delete (which
    revokes tokens in its own transaction) either sees this token or makes it refuse; the
    address is read from the locked row. Raises 409 when the instance has no console now.
    Expired tokens are purged on the way (one indexed DELETE).
    """
    with transaction.atomic():
        locked = Server.objects.select_for_update().filter(pk=server.pk).first()
        if locked is None:
            raise ServerNotFound(uuid=server.uuid)
        host, port = _check_console_state(locked)
        now = timezone.now()
        purge_expired_tokens(now=now)
        secret = secrets.token_urlsafe(TOKEN_BYTES)
        token = ConsoleToken.objects.create(
            token_hash=hash_token(secret),
            server_uuid=locked.uuid,
            console_type=console_type,
            host=host,
            port=port,
            user_id=context.user_id,
            project_id=context.project_id or "",
            expires_at=now + timedelta(seconds=cc_settings.CONSOLE_TOKEN_TTL),
        )
    logger.info(
        "console token %s (%s) for instance %s created by user %s of project %s; "
        "target %s:%s, expires %s",
        token.pk,
        console_type,
        locked.uuid,
        context.user_id,
        context.project_id,
        host,
        port,
        token.expires_at.isoformat(),
    )
    return secret, token


def get_remote_console(
    *, context: RequestContext, server: Server, protocol: str, console_type: str
) -> str:
    """A console URL for `server` (os-remote-consoles, os-getVNCConsole).

    400 for a protocol/type pair that does not belong together or that this cloud does not
    serve (only vnc/novnc is served), 409 when the instance has no console now.
    """
    if console_type not in TYPES_BY_PROTOCOL.get(protocol, ()):
        raise ConsoleTypeInvalid(console_type=console_type)
    if (protocol, console_type) not in SERVED:
        raise ConsoleTypeUnavailable(console_type=console_type)
    secret, _ = create_console_token(context=context, server=server, console_type=console_type)
    return console_url(secret)


def resolve_token(secret: str) -> ConsoleToken | None:
    """The token for `secret` if it may be used now, else None.

    Usable means: known (by hash), not expired, its instance not deleted, and the instance's
    console still at the address the token was made for.
    """
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    token = ConsoleToken.objects.filter(
        token_hash=hash_token(secret), expires_at__gt=timezone.now()
    ).first()
    if token is None:
        return None
    current = Server.objects.filter(uuid=token.server_uuid).values_list("console", flat=True)
    if _console_address(current.first()) != (token.host, token.port):
        return None
    return token


def purge_expired_tokens(*, now: datetime | None = None) -> int:
    """Delete tokens past their expiry; returns how many."""
    deleted, _ = ConsoleToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def revoke_server_tokens(*, server_uuid: uuid.UUID | str) -> int:
    """Remove every console token of an instance (deleted, migrated or resized)."""
    deleted, _ = ConsoleToken.objects.filter(server_uuid=server_uuid).delete()
    if deleted:
        logger.info("revoked %s console token(s) of instance %s", deleted, server_uuid)
    return deleted

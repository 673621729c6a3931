"""The console proxy: websockify with our token plug-in, Origin check, page and session log.

``manage.py consoleproxy`` runs one `ConsoleProxyServer` (websockify 0.13's `WebSocketProxy`,
one forked process per connection). What it serves, all on one port:

- ``/vnc_lite.html?path=%3Ftoken%3D<token>``: the console page (templates/consoles/console.html,
  rendered here), which loads noVNC's ES modules from this same origin;
- every other ``GET``: a file under ``NOVNC_PATH`` (Debian's ``novnc`` package,
  /usr/share/novnc: ``core/rfb.js``, ``vendor/``...), no directory listings;
- a websocket upgrade on ``/?token=<token>``: checked, then proxied to the instance's VNC server.

Why the proxy serves the page and not the web process: the page, noVNC and the websocket then
share one origin, so the Origin check needs no configuration, and consoles keep working when
the API or dashboard is elsewhere. The dashboard embeds the same URL in an iframe (the page's
``frame-ancestors`` allows the API's own origin and ``CONSOLE_ALLOWED_ORIGINS``).

A websocket upgrade is checked before the handshake, and refused with an HTTP error and no
connection to any VNC server when:

- its ``Origin`` names neither this proxy's own ``Host`` (host:port as the browser sent it) nor
  an entry of ``CONSOLE_ALLOWED_ORIGINS``, or its scheme differs from ``CONSOLE_PROXY_URL``'s
  (``X-Forwarded-Proto`` preferred), as Nova's NovaProxyRequestHandler checks. No Origin at
  all is a non-browser client (browsers always send one) and is let through, as in Nova;
- its token is missing, unknown, expired, or its instance is gone or its console has moved
  (`apps.consoles.services.resolve_token`). The target address comes from the token row, never
  from the request, so a token reaches its own instance's console and nothing else.

Database use: the parent process holds no connection (it forks children; a shared socket
would be corrupted); each child looks its token up and closes its connection at once, since
a session may last hours. Each session logs one line when it starts and one when it ends
(instance, user, project, client, duration, bytes); tokens never appear in the log.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import close_old_connections, connections
from django.template.loader import render_to_string
from websockify.token_plugins import BasePlugin
from websockify.websocketproxy import ProxyRequestHandler, WebSocketProxy

from apps.consoles.choices import NOVNC_PAGE
from apps.consoles.models import ConsoleToken
from apps.consoles.services import resolve_token
from computecloud.conf import cc_settings

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# websockify logs request paths; the token must not reach the log.
_TOKEN_IN_TEXT = re.compile(r"(token(?:=|%3D))[^&\s'\"]+", re.IGNORECASE)
# websockify wants a certificate path even without TLS and treats an existing one as "TLS on";
# this one never exists, so a proxy without configured TLS never offers it.
_NO_CERT = "/nonexistent/computecloud-consoleproxy-tls-disabled.pem"


def redact(text: str) -> str:
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


# --- Origin ------------------------------------------------------------------------------------
def _split_host_port(value: str) -> tuple[str, int | None]:
    """("host", port) from "host", "host:port", "[v6]" or "[v6]:port" (port None if absent)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:
        host, port_text = value, ""
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        port = None
    return host.lower(), port


def _allowed_entry(entry: str) -> tuple[str, int | None]:
    """An allowed-origins entry: "host", "host:port" or a full "scheme://host[:port]"."""
    if "://" in entry:
        parts = urlsplit(entry)
        return (parts.hostname or "").lower(), parts.port
    return _split_host_port(entry)


def origin_allowed(
    origin: str | None,
    *,
    host_header: str | None,
    allowed_origins: Iterable[str],
    expected_scheme: str,
    forwarded_proto: str | None = None,
) -> tuple[bool, str]:
    """Whether a websocket's Origin may use this proxy, and why not.

    The proxy's own address is the ``Host`` header the browser sent: with a port, the
    Origin must have that host and port; without one (the usual form behind a reverse proxy
    on 80/443), that host. An allowed entry without a port admits any port of its host.
    """
    if origin is None:
        return True, "no Origin (not a browser)"
    parts = urlsplit(origin)
    hostname = (parts.hostname or "").lower()
    scheme = (forwarded_proto or parts.scheme or "").lower()
    if not hostname or scheme not in ("http", "https"):
        return False, "Origin header not valid."
    if scheme != expected_scheme:
        return False, "Origin header protocol does not match this host."
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme.lower()]
    except (ValueError, KeyError):
        return False, "Origin header not valid."
    candidates = [_allowed_entry(entry) for entry in allowed_origins]
    if host_header:
        candidates.append(_split_host_port(host_header))
    for allowed_host, allowed_port in candidates:
        if allowed_host == hostname and allowed_port in (None, port):
            return True, "allowed"
    return False, "Origin header does not match this host."


# --- token lookup ------------------------------------------------------------------------------
class DatabaseTokenPlugin(BasePlugin):
    """websockify token plug-in: token → (host, port) through `resolve_token`."""

    def __init__(self, src: str = "") -> None:
        super().__init__(src)

    def resolve(self, token: str) -> ConsoleToken | None:
        close_old_connections()
        try:
            return resolve_token(token)
        finally:
            # This process now proxies for as long as the session lasts: hold no connection.
            connections.close_all()

    def lookup(self, token: str) -> tuple[str, int] | None:
        found = self.resolve(token)
        return None if found is None else (found.host, found.port)


def token_from_path(path: str) -> str | None:
    """The ``token`` query parameter of a websocket request path (``/?token=...``)."""
    values = parse_qs(urlsplit(path).query).get("token")
    return values[0].strip() if values else None


# --- the request handler -----------------------------------------------------------------------
class _Refused(Exception):
    pass


class ConsoleProxyRequestHandler(ProxyRequestHandler):
    """One client connection (in its own process): the page, noVNC files or a console."""

    server: ConsoleProxyServer
    console_token: ConsoleToken | None = None
    bytes_to_client = 0
    bytes_from_client = 0

    # --- websocket: checks before the handshake ------------------------------------------------
    def validate_connection(self) -> None:
        client = self.client_address[0]
        ok, reason = origin_allowed(
            self.headers.get("Origin"),
            host_header=self.headers.get("Host"),
            allowed_origins=self.server.allowed_origins,
            expected_scheme=self.server.expected_scheme,
            forwarded_proto=self.headers.get("X-Forwarded-Proto"),
        )
        if not ok:
            self._refuse(403, reason, f"Origin {self.headers.get('Origin')!r} from {client}")
        secret = token_from_path(self.path)
        if not secret:
            self._refuse(403, "Token not present.", f"no token from {client}")
        try:
            token = self.server.token_plugin.resolve(secret)
        except Exception:
            logger.exception("console token lookup failed for a connection from %s", client)
            self._refuse(503, "The console service cannot check tokens now.", "lookup failed")
        if token is None:
            self._refuse(403, "Invalid or expired console token.", f"unknown token from {client}")
        self.console_token = token
        self.server.target_host = token.host
        self.server.target_port = token.port

    def _refuse(self, code: int, message: str, detail: str) -> NoReturn:
        logger.warning("console connection refused: %s (%s)", message, detail)
        self.close_connection = True
        self.send_error(code, explain=message)
        # An empty reason: websockify logs nothing more, the socket is closed.
        raise self.server.EClose("")

    # --- websocket: the session ----------------------------------------------------------------
    def new_websocket_client(self) -> None:
        token = self.console_token
        assert token is not None  # validate_connection ran before the handshake
        started = time.monotonic()
        logger.info(
            "console session started: instance %s, user %s, project %s, client %s, target %s:%s",
            token.server_uuid,
            token.user_id,
            token.project_id,
            self.client_address[0],
            token.host,
            token.port,
        )
        how = "closed"
        try:
            super().new_websocket_client()
        except self.CClose as exc:
            code, reason = (*exc.args, None, None)[:2]
            how = f"closed (code {code}{f': {reason}' if reason else ''})"
            raise
        except Exception as exc:
            how = f"failed ({exc})"
            raise
        finally:
            logger.info(
                "console session ended: instance %s, user %s, project %s, client %s, %s "
                "after %.1f s, %s bytes to client, %s bytes from client",
                token.server_uuid,
                token.user_id,
                token.project_id,
                self.client_address[0],
                how,
                time.monotonic() - started,
                self.bytes_to_client,
                self.bytes_from_client,
            )

    def send_frames(self, bufs: list[bytes] | None = None) -> bool:
        if bufs:
            self.bytes_to_client += sum(len(buf) for buf in bufs)
        return super().send_frames(bufs)

    def recv_frames(self) -> tuple[list[bytes], Any]:
        bufs, closed = super().recv_frames()
        self.bytes_from_client += sum(len(buf) for buf in bufs)
        return bufs, closed

    # --- plain HTTP: the console page, then noVNC's files --------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if urlsplit(self.path).path == f"/{NOVNC_PAGE}":
            self._send_page(with_body=True)
        else:
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        if urlsplit(self.path).path == f"/{NOVNC_PAGE}":
            self._send_page(with_body=False)
        else:
            super().do_HEAD()

    def _send_page(self, *, with_body: bool) -> None:
        nonce = secrets.token_urlsafe(16)
        body = render_to_string("consoles/console.html", {"nonce": nonce, "novnc_base": "./"})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        # The page's URL holds the token: never send it on as a referrer.
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", self.server.page_policy(nonce))
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.client_address[0], redact(format % args))


# --- the server --------------------------------------------------------------------------------
@dataclass
class ProxyConfig:
    """How to run the proxy; `from_settings` fills it from COMPUTECLOUD, the command overrides."""

    host: str
    port: int
    web: str
    cert: str = ""
    key: str = ""
    ssl_only: bool = False
    allowed_origins: list[str] = field(default_factory=list)
    verbose: bool = False

    @classmethod
    def from_settings(cls) -> ProxyConfig:
        return cls(
            host=cc_settings.CONSOLE_PROXY_HOST,
            port=int(cc_settings.CONSOLE_PROXY_PORT),
            web=cc_settings.NOVNC_PATH,
            cert=cc_settings.CONSOLE_PROXY_CERT,
            key=cc_settings.CONSOLE_PROXY_KEY,
            ssl_only=bool(cc_settings.CONSOLE_PROXY_SSL_ONLY),
            allowed_origins=list(cc_settings.CONSOLE_ALLOWED_ORIGINS),
        )


class ConsoleProxyServer(WebSocketProxy):
    """websockify's proxy with our handler, token plug-in and Origin settings."""

    def __init__(self, *, allowed_origins: list[str], expected_scheme: str, **kwargs: Any) -> None:
        self.allowed_origins = allowed_origins
        self.expected_scheme = expected_scheme
        super().__init__(RequestHandlerClass=ConsoleProxyRequestHandler, **kwargs)

    def page_policy(self, nonce: str) -> str:
        """The console page's Content-Security-Policy: our scripts and noVNC's, this origin's
        websocket, and framing by this origin, the API's and the allowed origins."""
        ancestors = ["'self'", _origin_of(settings.PUBLIC_URL)]
        ancestors.extend(
            entry if "://" in entry else f"http://{entry} https://{entry}"
            for entry in self.allowed_origins
        )
        return "; ".join(
            [
                "default-src 'self'",
                f"script-src 'self' 'nonce-{nonce}'",
                f"style-src 'self' 'nonce-{nonce}'",
                "img-src 'self' data: blob:",
                "connect-src 'self'",
                f"frame-ancestors {' '.join(a for a in ancestors if a)}",
                "base-uri 'none'",
                "form-action 'none'",
            ]
        )


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def check_web_root(web: str) -> Path:
    root = Path(web)
    if not (root / "core" / "rfb.js").is_file():
        raise FileNotFoundError(
            f"noVNC is not at {root} (no core/rfb.js): install Debian's novnc package or set "
            "COMPUTECLOUD['NOVNC_PATH']"
        )
    return root.resolve()


def build_server(config: ProxyConfig) -> ConsoleProxyServer:
    """A ready proxy for `config` (not yet listening: call ``start_server()``)."""
    web = check_web_root(config.web)
    if config.ssl_only and not config.cert:
        raise ValueError("CONSOLE_PROXY_SSL_ONLY needs CONSOLE_PROXY_CERT")
    if config.cert and not Path(config.cert).is_file():
        raise FileNotFoundError(f"console proxy certificate {config.cert} does not exist")
    expected_scheme = urlsplit(cc_settings.CONSOLE_PROXY_URL).scheme.lower() or "http"
    # The parent forks one process per connection: it must not hold a database connection.
    connections.close_all()
    return ConsoleProxyServer(
        allowed_origins=config.allowed_origins,
        expected_scheme=expected_scheme,
        listen_host=config.host,
        listen_port=config.port,
        web=str(web),
        file_only=True,
        cert=config.cert or _NO_CERT,
        key=config.key or None,
        ssl_only=config.ssl_only,
        verbose=config.verbose,
        token_plugin=DatabaseTokenPlugin(),
    )


def serve(config: ProxyConfig) -> None:
    """Run the proxy until SIGTERM/SIGINT (blocks)."""
    server = build_server(config)
    logger.info(
        "console proxy listening on %s:%s (%s), noVNC from %s, allowed origins: %s",
        config.host,
        config.port,
        "TLS" if config.cert else "no TLS",
        config.web,
        ", ".join(config.allowed_origins) or "its own only",
    )
    server.start_server()

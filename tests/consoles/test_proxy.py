"""The console proxy as a real process (``manage.py consoleproxy``) against the test database,
in front of small TCP servers that answer as VNC servers do (first line ``RFB 003.008``).

Tokens are made through the service, so they are real rows the proxy's own process looks up.
"""

import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.consoles import services
from apps.servers.models import Server
from tests.conftest import Caller
from tests.consoles import wsclient
from tests.consoles.conftest import (
    DASHBOARD_ORIGIN,
    RFB_VERSION,
    ConsoleProxy,
    FakeVncServer,
    caller_context,
    start_console_proxy,
)
from tests.harness import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def token_for(caller: Caller, server: Server) -> str:
    secret, _ = services.create_console_token(
        context=caller_context(caller), server=server, console_type="novnc"
    )
    return secret


def open_console(
    proxy: ConsoleProxy, token: str, *, origin: str | None = "own"
) -> wsclient.WebSocketResponse:
    return wsclient.connect(
        proxy.host,
        proxy.port,
        f"/?token={token}",
        origin=proxy.origin if origin == "own" else origin,
    )


def test_valid_token_reaches_its_own_instance_and_no_other(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given: two instances, each with its VNC server
    vnc_a, vnc_b = fake_vnc(), fake_vnc()
    server_a = make_console_server(member.project, console=vnc_a.console)
    make_console_server(member.project, console=vnc_b.console)
    token = token_for(member, server_a)

    # when
    response = open_console(console_proxy, token)

    # then
    assert response.status == 101, response.body
    assert response.ws is not None
    try:
        assert response.ws.recv_message() == RFB_VERSION
    finally:
        response.ws.close()
    assert (vnc_a.accepted, vnc_b.accepted) == (1, 0)


def test_forged_token_is_refused(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given: a real token exists, the client guesses another
    vnc = fake_vnc()
    token_for(member, make_console_server(member.project, console=vnc.console))

    # when
    response = open_console(console_proxy, secrets.token_urlsafe(32))

    # then
    assert response.status == 403
    assert vnc.accepted == 0


def test_request_without_token_is_refused(console_proxy: ConsoleProxy) -> None:
    response = wsclient.connect(
        console_proxy.host, console_proxy.port, "/websockify", origin=console_proxy.origin
    )
    assert response.status == 403


def test_expired_token_is_refused(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
    settings: Any,
) -> None:
    # given: a token that lives one second, then has expired
    settings.COMPUTECLOUD = {"CONSOLE_TOKEN_TTL": 1}
    vnc = fake_vnc()
    token = token_for(member, make_console_server(member.project, console=vnc.console))
    wait_until(
        lambda: services.resolve_token(token) is None, timeout=10, what="the token to expire"
    )

    # when
    response = open_console(console_proxy, token)

    # then
    assert response.status == 403
    assert vnc.accepted == 0


def test_token_of_a_deleted_instance_is_refused(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given
    vnc = fake_vnc()
    server = make_console_server(member.project, console=vnc.console)
    token = token_for(member, server)

    # when: the delete path revokes the instance's tokens
    services.revoke_server_tokens(server_uuid=server.uuid)
    response = open_console(console_proxy, token)

    # then
    assert response.status == 403
    assert vnc.accepted == 0


def test_foreign_origin_is_refused_even_with_a_valid_token(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given
    vnc = fake_vnc()
    token = token_for(member, make_console_server(member.project, console=vnc.console))

    # when: a page on another site opens the websocket with a stolen token
    response = open_console(console_proxy, token, origin="http://evil.example")

    # then
    assert response.status == 403
    assert b"Origin header does not match this host." in response.body
    assert vnc.accepted == 0


def test_allowed_origin_and_non_browser_clients_are_accepted(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given
    vnc = fake_vnc()
    token = token_for(member, make_console_server(member.project, console=vnc.console))

    # when: a dashboard page on an allowed origin, and a client that sends no Origin
    from_dashboard = open_console(console_proxy, token, origin=f"http://{DASHBOARD_ORIGIN}")
    without_origin = open_console(console_proxy, token, origin=None)

    # then
    for response in (from_dashboard, without_origin):
        assert response.status == 101, response.body
        assert response.ws is not None
        assert response.ws.recv_message() == RFB_VERSION
        response.ws.close()
    assert vnc.accepted == 2


def test_each_session_is_logged_at_start_and_end_without_the_token(
    console_proxy: ConsoleProxy,
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given
    vnc = fake_vnc()
    server = make_console_server(member.project, console=vnc.console)
    token = token_for(member, server)

    # when: a session that sends a few bytes, then closes
    response = open_console(console_proxy, token)
    assert response.ws is not None
    response.ws.recv_message()
    response.ws.send_binary(b"RFB 003.008\n")
    response.ws.close()

    # then
    def ended_line() -> str | None:
        for line in console_proxy.log_text().splitlines():
            if "console session ended" in line and str(server.uuid) in line:
                return line
        return None

    ended = wait_until(ended_line, timeout=10, what="the session's end in the proxy log")
    log = console_proxy.log_text()
    started = [
        line
        for line in log.splitlines()
        if "console session started" in line and str(server.uuid) in line
    ]
    assert len(started) == 1
    assert str(member.user.pk) in started[0]
    assert f"127.0.0.1:{vnc.port}" in started[0]
    assert str(member.user.pk) in ended
    assert "12 bytes to client, 12 bytes from client" in ended
    assert token not in log


def test_proxy_serves_the_console_page_and_novnc_but_no_listings(
    console_proxy: ConsoleProxy,
) -> None:
    # when
    with urllib.request.urlopen(  # noqa: S310 - the test's own loopback proxy
        f"{console_proxy.url}/vnc_lite.html?path=%3Ftoken%3Dsome-token", timeout=10
    ) as page:
        html = page.read().decode()
        headers = page.headers
    with urllib.request.urlopen(f"{console_proxy.url}/core/rfb.js", timeout=10) as module:  # noqa: S310
        rfb = module.read().decode()

    # then
    assert 'import RFB from "./core/rfb.js"' in html
    assert "some-token" not in html
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "export default class RFB" in rfb
    with pytest.raises(urllib.error.HTTPError) as listing:
        urllib.request.urlopen(f"{console_proxy.url}/core/", timeout=10)  # noqa: S310
    assert listing.value.code == 404


@pytest.fixture(scope="module")
def tls_console_proxy(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ConsoleProxy, Path]]:
    """A proxy with a self-signed certificate for 127.0.0.1, TLS only; and that certificate."""
    directory = tmp_path_factory.mktemp("consoleproxy-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    proxy = start_console_proxy(
        directory, "--cert", str(cert), "--key", str(key), "--ssl-only", scheme="https"
    )
    try:
        yield proxy, cert
    finally:
        proxy.stop()


def test_proxy_with_a_certificate_serves_consoles_over_tls_only(
    tls_console_proxy: tuple[ConsoleProxy, Path],
    member: Caller,
    fake_vnc: Callable[[], FakeVncServer],
    make_console_server: Callable[..., Server],
) -> None:
    # given
    proxy, cert = tls_console_proxy
    vnc = fake_vnc()
    token = token_for(member, make_console_server(member.project, console=vnc.console))

    # when
    secure = wsclient.connect(
        proxy.host, proxy.port, f"/?token={token}", origin=proxy.origin, tls_ca=cert
    )
    plain = wsclient.connect(proxy.host, proxy.port, f"/?token={token}", origin=proxy.origin)
    http_page = wsclient.connect(
        proxy.host, proxy.port, f"/?token={token}", origin=f"http://127.0.0.1:{proxy.port}",
        tls_ca=cert,
    )  # fmt: skip

    # then: wss:// works; plain ws:// gets no answer; an http:// page may not use a TLS console
    assert secure.status == 101, secure.body
    assert secure.ws is not None
    assert secure.ws.recv_message() == RFB_VERSION
    secure.ws.close()
    assert plain.status == 0
    assert http_page.status == 403
    assert vnc.accepted == 1

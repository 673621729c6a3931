"""The proxy's Origin rule (apps.consoles.proxy.origin_allowed), case by case."""

import pytest

from apps.consoles.proxy import origin_allowed, redact, token_from_path


@pytest.mark.parametrize(
    ("origin", "host_header", "allowed", "expected"),
    [
        # The proxy's own page: the Host the browser sent, port included.
        ("http://127.0.0.1:6080", "127.0.0.1:6080", [], True),
        ("http://127.0.0.1:8000", "127.0.0.1:6080", [], False),
        ("http://evil.example:6080", "127.0.0.1:6080", [], False),
        # Behind a reverse proxy on the default port the Host carries no port.
        ("http://console.example", "console.example", [], True),
        ("http://CONSOLE.example:80", "console.example", [], True),
        # Allowed entries: a host (any port) or host:port (that one).
        ("http://dash.example:8443", "127.0.0.1:6080", ["dash.example"], True),
        ("http://dash.example:8443", "127.0.0.1:6080", ["dash.example:8443"], True),
        ("http://dash.example:9000", "127.0.0.1:6080", ["dash.example:8443"], False),
        ("http://dash.example", "127.0.0.1:6080", ["dash.example:80"], True),
        ("http://dash.example:8443", "127.0.0.1:6080", ["http://dash.example:8443"], True),
        ("http://[::1]:6080", "[::1]:6080", [], True),
        # Not a usable origin at all.
        ("null", "127.0.0.1:6080", [], False),
        ("file:///tmp/page.html", "127.0.0.1:6080", [], False),
    ],
)
def test_origin_must_be_the_proxy_itself_or_allowed(
    origin: str, host_header: str, allowed: list[str], expected: bool
) -> None:
    # when
    ok, _reason = origin_allowed(
        origin, host_header=host_header, allowed_origins=allowed, expected_scheme="http"
    )

    # then
    assert ok is expected


def test_missing_origin_is_a_non_browser_client_and_allowed() -> None:
    ok, _ = origin_allowed(
        None, host_header="127.0.0.1:6080", allowed_origins=[], expected_scheme="http"
    )
    assert ok


def test_origin_scheme_must_match_the_console_url_scheme() -> None:
    # given: consoles are handed out as https URLs
    # when
    plain, reason = origin_allowed(
        "http://console.example",
        host_header="console.example",
        allowed_origins=[],
        expected_scheme="https",
    )
    forwarded, _ = origin_allowed(
        "http://console.example",
        host_header="console.example",
        allowed_origins=[],
        expected_scheme="https",
        forwarded_proto="https",
    )

    # then
    assert not plain
    assert reason == "Origin header protocol does not match this host."
    assert forwarded


def test_token_is_read_from_the_query_and_never_logged() -> None:
    assert token_from_path("/?token=abc-DEF_1") == "abc-DEF_1"
    assert token_from_path("/websockify") is None
    assert redact("Path: '/?token=abc-DEF_1'") == "Path: '/?token=***'"
    assert redact("GET /vnc_lite.html?path=%3Ftoken%3Dabc HTTP/1.1") == (
        "GET /vnc_lite.html?path=%3Ftoken%3D*** HTTP/1.1"
    )

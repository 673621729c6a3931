"""Console APIs through DRF's client: remote-consoles, os-getVNCConsole, os-console-auth-tokens."""

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.response import Response

from apps.consoles import services
from apps.consoles.api.views import get_vnc_console_action
from apps.consoles.models import ConsoleToken
from apps.servers.api import views as server_views
from apps.servers.choices import VmState
from apps.servers.models import Server
from tests.conftest import Caller
from tests.consoles.conftest import caller_context

CONSOLE = {"host": "127.0.0.1", "port": 5905}
VNC = {"remote_console": {"protocol": "vnc", "type": "novnc"}}


def version(microversion: str) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {microversion}"}


def remote_console(
    caller: Caller, server_id: object, body: Any = VNC, microversion: str = "2.6"
) -> Response:
    return caller.client.post(
        f"/compute/v2.1/servers/{server_id}/remote-consoles",
        body,
        format="json",
        **version(microversion),
    )


def token_of(url: str) -> str:
    path = parse_qs(urlsplit(url).query)["path"][0]
    return parse_qs(urlsplit(path).query)["token"][0]


@pytest.fixture
def server(member: Caller, make_console_server: Callable[..., Server]) -> Server:
    return make_console_server(member.project, console=CONSOLE)


# --- POST /servers/{id}/remote-consoles --------------------------------------------------------
def test_remote_console_answers_a_novnc_url_with_a_token_for_the_instance(
    member: Caller, server: Server, settings: Any
) -> None:
    # given
    settings.COMPUTECLOUD = {"CONSOLE_PROXY_URL": "http://console.example:6080"}

    # when
    response = remote_console(member, server.uuid)

    # then
    assert response.status_code == 200, response.content
    body = response.json()["remote_console"]
    assert body["protocol"] == "vnc"
    assert body["type"] == "novnc"
    assert body["url"].startswith("http://console.example:6080/vnc_lite.html?path=%3Ftoken%3D")
    token = services.resolve_token(token_of(body["url"]))
    assert token is not None
    assert (token.server_uuid, token.host, token.port) == (server.uuid, "127.0.0.1", 5905)
    assert token.user_id == str(member.user.pk)
    assert response["OpenStack-API-Version"] == "compute 2.6"


def test_remote_consoles_does_not_exist_before_2_6(member: Caller, server: Server) -> None:
    response = remote_console(member, server.uuid, microversion="2.5")
    assert response.status_code == 404
    assert not ConsoleToken.objects.exists()


@pytest.mark.parametrize(
    ("microversion", "protocol", "console_type"),
    [
        ("2.6", "spice", "spice-html5"),  # a Nova console kind this cloud does not serve
        ("2.6", "serial", "serial"),
        ("2.6", "vnc", "xvpvnc"),
        ("2.6", "rdp", "rdp-html5"),  # gone from Nova's schema
        ("2.6", "mks", "webmks"),  # only from 2.8
        ("2.8", "mks", "webmks"),
        ("2.6", "vnc", "spice-html5"),  # a type of another protocol
    ],
)
def test_remote_console_refuses_protocols_it_does_not_serve(
    member: Caller, server: Server, microversion: str, protocol: str, console_type: str
) -> None:
    body = {"remote_console": {"protocol": protocol, "type": console_type}}
    response = remote_console(member, server.uuid, body, microversion)
    assert response.status_code == 400, response.content
    assert "badRequest" in response.json()
    assert not ConsoleToken.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"remote_console": {"protocol": "vnc"}},
        {"remote_console": {"protocol": "vnc", "type": "novnc", "extra": 1}},
        {**VNC, "other": {}},
    ],
)
def test_remote_console_validates_its_body(member: Caller, server: Server, body: Any) -> None:
    assert remote_console(member, server.uuid, body).status_code == 400


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"vm_state": VmState.STOPPED}, "while it is in vm_state stopped"),
        ({"vm_state": VmState.BUILDING, "host": None}, "is not ready"),
        ({"vm_state": VmState.ACTIVE, "console": None}, "is not ready"),
    ],
)
def test_remote_console_conflicts_when_the_instance_has_no_console(
    member: Caller,
    make_console_server: Callable[..., Server],
    fields: dict[str, Any],
    message: str,
) -> None:
    # given
    server = make_console_server(member.project, **{"console": CONSOLE, **fields})

    # when
    response = remote_console(member, server.uuid)

    # then
    assert response.status_code == 409, response.content
    assert message in response.json()["conflictingRequest"]["message"]


def test_remote_console_of_another_projects_server_is_not_found(
    member: Caller, make_caller: Callable[..., Caller], server: Server
) -> None:
    stranger = make_caller("member")
    assert remote_console(stranger, server.uuid).status_code == 404


def test_reader_may_not_open_a_console(reader: Caller, server: Server) -> None:
    response = remote_console(reader, server.uuid)
    assert response.status_code == 403
    assert not ConsoleToken.objects.exists()


def test_admin_may_open_any_projects_console(admin: Caller, server: Server) -> None:
    assert remote_console(admin, server.uuid).status_code == 200


def test_anonymous_caller_is_unauthorized(anonymous: Any, server: Server) -> None:
    response = anonymous.post(
        f"/compute/v2.1/servers/{server.uuid}/remote-consoles", VNC, format="json", **version("2.6")
    )
    assert response.status_code == 401


# --- the legacy os-getVNCConsole action --------------------------------------------------------
@pytest.fixture
def vnc_action_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The servers API dispatches actions by name; register ours as its ACTION_HANDLERS line
    does (a no-op once that line is in apps/servers/api/views.py)."""
    monkeypatch.setitem(server_views.ACTION_HANDLERS, "os-getVNCConsole", get_vnc_console_action)


def vnc_action(caller: Caller, server_id: object, args: Any, microversion: str = "2.1") -> Response:
    return caller.client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        {"os-getVNCConsole": args},
        format="json",
        **version(microversion),
    )


@pytest.mark.usefixtures("vnc_action_registered")
def test_get_vnc_console_action_answers_a_console_url(member: Caller, server: Server) -> None:
    # when
    response = vnc_action(member, server.uuid, {"type": "novnc"})

    # then
    assert response.status_code == 200, response.content
    body = response.json()["console"]
    assert body["type"] == "novnc"
    token = services.resolve_token(token_of(body["url"]))
    assert token is not None
    assert token.server_uuid == server.uuid


@pytest.mark.usefixtures("vnc_action_registered")
def test_get_vnc_console_action_is_gone_from_2_6(member: Caller, server: Server) -> None:
    response = vnc_action(member, server.uuid, {"type": "novnc"}, microversion="2.6")
    assert response.status_code == 404
    assert not ConsoleToken.objects.exists()


@pytest.mark.usefixtures("vnc_action_registered")
@pytest.mark.parametrize("args", [{"type": "xvpvnc"}, {"type": "spice-html5"}, {}, None])
def test_get_vnc_console_action_refuses_other_types(
    member: Caller, server: Server, args: Any
) -> None:
    assert vnc_action(member, server.uuid, args).status_code == 400


@pytest.mark.usefixtures("vnc_action_registered")
def test_get_vnc_console_action_conflicts_on_a_stopped_instance(
    member: Caller, make_console_server: Callable[..., Server]
) -> None:
    server = make_console_server(member.project, console=CONSOLE, vm_state=VmState.STOPPED)
    assert vnc_action(member, server.uuid, {"type": "novnc"}).status_code == 409


# --- GET /os-console-auth-tokens/{token} -------------------------------------------------------
def auth_token(caller: Caller, token: str, microversion: str = "2.31") -> Response:
    return caller.client.get(
        f"/compute/v2.1/os-console-auth-tokens/{token}", **version(microversion)
    )


@pytest.fixture
def secret(member: Caller, server: Server) -> str:
    value, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    return value


def test_admin_sees_where_a_token_leads(admin: Caller, server: Server, secret: str) -> None:
    response = auth_token(admin, secret)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "console": {
            "instance_uuid": str(server.uuid),
            "host": "127.0.0.1",
            "port": 5905,
            "internal_access_path": None,
        }
    }


def test_novnc_token_details_are_hidden_before_2_31(admin: Caller, secret: str) -> None:
    response = auth_token(admin, secret, microversion="2.30")
    assert response.status_code == 401
    assert response.json()["unauthorized"]["message"] == (
        "The requested console type details are not accessible"
    )


def test_unknown_or_expired_token_is_not_found(
    admin: Caller, member: Caller, server: Server, settings: Any
) -> None:
    settings.COMPUTECLOUD = {"CONSOLE_TOKEN_TTL": 0}
    expired, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    assert auth_token(admin, "no-such-token").status_code == 404
    assert auth_token(admin, expired).status_code == 404


def test_members_may_not_read_console_tokens(member: Caller, secret: str) -> None:
    assert auth_token(member, secret).status_code == 403

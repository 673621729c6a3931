"""Console token services: creation, hashing, binding, expiry, revocation and purge."""

import hashlib
import uuid
from collections.abc import Callable

import pytest

from apps.consoles import services
from apps.consoles.exceptions import InstanceNotReady
from apps.consoles.models import ConsoleToken
from apps.servers.choices import TaskState, VmState
from apps.servers.models import Server
from apps.servers.states import ServerInvalidState
from tests.conftest import Caller
from tests.consoles.conftest import caller_context

CONSOLE = {"host": "127.0.0.1", "port": 5901}


@pytest.fixture
def server(member: Caller, make_console_server: Callable[..., Server]) -> Server:
    return make_console_server(member.project, console=CONSOLE)


def test_token_has_256_random_bits_and_only_its_hash_is_stored(
    member: Caller, server: Server
) -> None:
    # when
    secret, token = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )

    # then
    assert len(secret) == 43  # 32 bytes, URL-safe base64 without padding
    row = ConsoleToken.objects.get(pk=token.pk)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(value) for value in row.__dict__.values()}


def test_token_is_bound_to_the_instance_and_its_reported_console(
    member: Caller, server: Server
) -> None:
    # when
    secret, token = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )

    # then
    resolved = services.resolve_token(secret)
    assert resolved is not None
    assert resolved.pk == token.pk
    assert (resolved.server_uuid, resolved.host, resolved.port) == (
        server.uuid,
        CONSOLE["host"],
        CONSOLE["port"],
    )
    assert (resolved.user_id, resolved.project_id) == (str(member.user.pk), member.project.pk)


def test_two_tokens_for_one_instance_differ(member: Caller, server: Server) -> None:
    first, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    second, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    assert first != second


def test_unknown_and_oversized_tokens_resolve_to_nothing(member: Caller, server: Server) -> None:
    services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    assert services.resolve_token("") is None
    assert services.resolve_token("not-a-token") is None
    assert services.resolve_token("x" * 10_000) is None


def test_expired_token_resolves_to_nothing_and_is_purged(
    member: Caller, server: Server, settings: object
) -> None:
    # given: a token with no lifetime left and one with ten minutes
    settings.COMPUTECLOUD = {"CONSOLE_TOKEN_TTL": 0}  # type: ignore[attr-defined]
    expired, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    settings.COMPUTECLOUD = {"CONSOLE_TOKEN_TTL": 600}  # type: ignore[attr-defined]
    valid, kept = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )

    # when
    resolved_expired = services.resolve_token(expired)
    purged = services.purge_expired_tokens()

    # then
    assert resolved_expired is None
    assert purged == 0  # creating the second token already purged the first
    assert list(ConsoleToken.objects.values_list("pk", flat=True)) == [kept.pk]
    assert services.resolve_token(valid) is not None


def test_revoked_tokens_of_a_deleted_instance_resolve_to_nothing(
    member: Caller, server: Server, make_console_server: Callable[..., Server]
) -> None:
    # given
    other = make_console_server(member.project, console={"host": "127.0.0.1", "port": 5902})
    secret, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    other_secret, _ = services.create_console_token(
        context=caller_context(member), server=other, console_type="novnc"
    )

    # when
    revoked = services.revoke_server_tokens(server_uuid=server.uuid)

    # then
    assert revoked == 1
    assert services.resolve_token(secret) is None
    assert services.resolve_token(other_secret) is not None


def test_token_stops_working_when_the_instance_console_moves(
    member: Caller, server: Server
) -> None:
    # given
    secret, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )

    # when: the host reports a new VNC port (what the conductor stores after a reboot)
    Server.objects.filter(pk=server.pk).update(console={"host": "127.0.0.1", "port": 5999})

    # then: the old port may belong to another guest by now
    assert services.resolve_token(secret) is None


def test_token_of_a_soft_deleted_row_resolves_to_nothing(member: Caller, server: Server) -> None:
    secret, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    Server.objects.filter(pk=server.pk).update(deleted=True, vm_state=VmState.DELETED)
    assert services.resolve_token(secret) is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"vm_state": VmState.STOPPED}, ServerInvalidState),
        ({"vm_state": VmState.BUILDING, "host": None}, InstanceNotReady),
        ({"vm_state": VmState.ACTIVE, "task_state": TaskState.DELETING}, ServerInvalidState),
        ({"vm_state": VmState.ACTIVE, "console": None}, InstanceNotReady),
        ({"vm_state": VmState.ACTIVE, "console": {"host": "127.0.0.1"}}, InstanceNotReady),
    ],
)
def test_no_token_without_a_console(
    member: Caller,
    make_console_server: Callable[..., Server],
    fields: dict[str, object],
    error: type[Exception],
) -> None:
    # given
    server = make_console_server(member.project, **{"console": CONSOLE, **fields})

    # when / then
    with pytest.raises(error):
        services.create_console_token(
            context=caller_context(member), server=server, console_type="novnc"
        )
    assert not ConsoleToken.objects.exists()


def test_console_url_has_novas_form(settings: object) -> None:
    settings.COMPUTECLOUD = {"CONSOLE_PROXY_URL": "https://console.example:6080/"}  # type: ignore[attr-defined]
    assert services.console_url("abc_DEF-1") == (
        "https://console.example:6080/vnc_lite.html?path=%3Ftoken%3Dabc_DEF-1"
    )
    # A base URL that names the page (Nova's novncproxy_base_url) is used as it is.
    settings.COMPUTECLOUD = {"CONSOLE_PROXY_URL": "http://h:6080/vnc_auto.html"}  # type: ignore[attr-defined]
    assert services.console_url("t") == "http://h:6080/vnc_auto.html?path=%3Ftoken%3Dt"


def test_deleting_a_missing_instance_tokens_is_harmless(db: None) -> None:
    assert services.revoke_server_tokens(server_uuid=uuid.uuid4()) == 0


def test_a_local_delete_makes_its_tokens_unusable_at_once(member: Caller, server: Server) -> None:
    # given: a token, and the server's host not running (its delete is finished locally)
    secret, _ = services.create_console_token(
        context=caller_context(member), server=server, console_type="novnc"
    )
    # when
    response = member.client.delete(f"/compute/v2.1/servers/{server.uuid}")
    # then: the row may wait for the conductor or expiry, the token reaches nothing now
    assert response.status_code == 204
    assert not Server.objects.filter(pk=server.pk).exists()
    assert services.resolve_token(secret) is None

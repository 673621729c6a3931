"""GET/HEAD/DELETE /v3/auth/tokens, and when a token stops working: revoked, expired, its
user disabled, or its user's roles removed."""

import time
from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from apps.identity.services import assign_roles, set_user_enabled, unassign_role
from apps.identity.tokens import issue_token
from tests.conftest import Caller
from tests.identity.helpers import TOKENS, issue, password_body

pytestmark = pytest.mark.django_db

# An authenticated API whose answer depends on nothing but the token.
PROBE = "/identity/v3/auth/projects"


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token)
    return client


def _assert_refused(response: object) -> None:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response["WWW-Authenticate"].startswith("Keystone uri=")  # type: ignore[index]
    assert response.json()["error"]["code"] == 401  # type: ignore[attr-defined]


def test_user_validates_own_token_and_gets_the_token_body(member: Caller) -> None:
    # when
    response = member.client.get(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token)

    # then
    assert response.status_code == 200
    assert response["X-Subject-Token"] == member.token
    token = response.json()["token"]
    assert token["user"]["id"] == member.user.pk
    assert token["project"]["id"] == member.project.pk
    assert sorted(r["name"] for r in token["roles"]) == ["member", "reader"]
    assert token["catalog"]


def test_validation_with_nocatalog_leaves_the_catalog_out(member: Caller) -> None:
    # when
    response = member.client.get(f"{TOKENS}?nocatalog", HTTP_X_SUBJECT_TOKEN=member.token)

    # then
    assert response.status_code == 200
    assert "catalog" not in response.json()["token"]


def test_head_validates_without_a_body(member: Caller) -> None:
    # when
    response = member.client.head(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token)

    # then
    assert response.status_code == 200
    assert response.content == b""


def test_user_cannot_validate_another_users_token(
    make_caller: Callable[..., Caller], member: Caller
) -> None:
    # given
    other = make_caller("member", project=member.project)

    # when
    response = member.client.get(TOKENS, HTTP_X_SUBJECT_TOKEN=other.token)

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 403


def test_admin_validates_any_token(admin: Caller, member: Caller) -> None:
    # when
    response = admin.client.get(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token)

    # then
    assert response.status_code == 200
    assert response.json()["token"]["user"]["id"] == member.user.pk


def test_unknown_subject_token_is_404(member: Caller) -> None:
    # when
    response = member.client.get(TOKENS, HTTP_X_SUBJECT_TOKEN="not-a-token")

    # then
    assert response.status_code == 404
    assert response.json()["error"]["title"] == "Not Found"


def test_validation_needs_a_valid_caller_token(member: Caller, anonymous: APIClient) -> None:
    # when
    without = anonymous.get(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token)
    with_bad = _client("bad").get(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token)

    # then
    _assert_refused(without)
    _assert_refused(with_bad)


def test_delete_revokes_the_subject_everywhere(member: Caller) -> None:
    # given
    second = issue_token(user=member.user, project=member.project, methods=["password"]).token

    # when
    response = member.client.delete(TOKENS, HTTP_X_SUBJECT_TOKEN=second)

    # then
    assert response.status_code == 204
    _assert_refused(_client(second).get(PROBE))
    assert member.client.get(TOKENS, HTTP_X_SUBJECT_TOKEN=second).status_code == 404
    assert member.client.get(PROBE).status_code == 200  # the caller's own token is untouched


def test_token_revoking_itself_is_refused_afterwards(member: Caller) -> None:
    # when
    response = member.client.delete(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token)

    # then
    assert response.status_code == 204
    _assert_refused(member.client.get(PROBE))


def test_user_cannot_revoke_another_users_token(
    make_caller: Callable[..., Caller], member: Caller
) -> None:
    # given
    other = make_caller("member", project=member.project)

    # when
    response = member.client.delete(TOKENS, HTTP_X_SUBJECT_TOKEN=other.token)

    # then
    assert response.status_code == 403
    assert other.client.get(PROBE).status_code == 200


def test_expired_token_is_refused(
    settings: SettingsWrapper, make_caller: Callable[..., Caller]
) -> None:
    # given: tokens that live three seconds
    settings.COMPUTECLOUD = {**getattr(settings, "COMPUTECLOUD", {}), "TOKEN_TTL": 3}
    caller = make_caller("member")
    assert caller.client.get(PROBE).status_code == 200

    # when: we wait for it to expire (polled, with a deadline)
    deadline = time.monotonic() + 30
    response = caller.client.get(PROBE)
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        response = caller.client.get(PROBE)

    # then
    _assert_refused(response)


def test_token_of_a_disabled_user_is_refused_and_stays_refused(member: Caller) -> None:
    # given
    assert member.client.get(PROBE).status_code == 200

    # when
    set_user_enabled(user=member.user, enabled=False)
    disabled = member.client.get(PROBE)
    set_user_enabled(user=member.user, enabled=True)
    re_enabled = member.client.get(PROBE)

    # then
    _assert_refused(disabled)
    _assert_refused(re_enabled)  # disabling revoked it for good


def test_token_stops_working_when_the_user_loses_every_role(member: Caller) -> None:
    # when
    for role in ("member", "reader"):
        unassign_role(user=member.user, project=member.project, role=role)

    # then
    _assert_refused(member.client.get(PROBE))


def test_token_follows_the_roles_its_user_holds_now(member: Caller) -> None:
    # given
    unassign_role(user=member.user, project=member.project, role="member")

    # when
    roles = member.client.get(TOKENS, HTTP_X_SUBJECT_TOKEN=member.token).json()["token"]["roles"]

    # then
    assert [r["name"] for r in roles] == ["reader"]


def test_role_given_back_does_not_revive_tokens_of_the_lost_role(
    member: Caller, anonymous: APIClient
) -> None:
    # given: a token by password, then every role removed
    secret = issue(anonymous, password_body(user=member.user, project=member.project))[
        "X-Subject-Token"
    ]
    for role in ("member", "reader"):
        unassign_role(user=member.user, project=member.project, role=role)

    # when
    assign_roles(user=member.user, project=member.project, roles=["member"])

    # then
    _assert_refused(_client(secret).get(PROBE))
    _assert_refused(member.client.get(PROBE))

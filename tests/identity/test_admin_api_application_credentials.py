"""Application credentials through the API: a user makes them for themselves, the secret is
shown once and stored hashed, and the ``application_credential`` token method gives a token
scoped to the credential's project with its roles only, until it is deleted or expires."""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.identity.models import ApplicationCredential
from apps.identity.services import assign_roles, set_user_enabled, unassign_role
from tests.conftest import Caller
from tests.identity.helpers import issue

pytestmark = pytest.mark.django_db

V3 = "/identity/v3"


def _create(caller: Caller, **fields: Any) -> Any:
    body = {"application_credential": {"name": "ci", **fields}}
    return caller.client.post(
        f"{V3}/users/{caller.user.pk}/application_credentials", body, format="json"
    )


def _by_id(credential: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    """The body keystoneauth's v3applicationcredential plug-in sends with an id."""
    return {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {
                    "id": credential["id"],
                    "secret": secret or credential["secret"],
                },
            }
        }
    }


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token)
    return client


def _error(response: Any, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.content
    error = response.json()["error"]
    assert error["code"] == code
    return error


def test_create_shows_the_secret_once_and_stores_only_its_hash(member: Caller) -> None:
    # when
    created = _create(member, description="for the pipeline")

    # then
    assert created.status_code == 201
    credential = created.json()["application_credential"]
    assert credential["name"] == "ci"
    assert credential["description"] == "for the pipeline"
    assert credential["user_id"] == member.user.pk
    assert credential["project_id"] == member.project.pk
    assert {r["name"] for r in credential["roles"]} == {"member", "reader"}  # all held
    assert credential["unrestricted"] is False
    assert credential["expires_at"] is None
    assert len(credential["secret"]) >= 43
    assert credential["links"]["self"].endswith(
        f"/identity/v3/users/{member.user.pk}/application_credentials/{credential['id']}"
    )
    stored = ApplicationCredential.objects.get(pk=credential["id"])
    assert credential["secret"] not in stored.secret_hash
    assert stored.secret_hash.startswith(("pbkdf2_", "argon2", "bcrypt", "scrypt"))

    # when
    shown = member.client.get(
        f"{V3}/users/{member.user.pk}/application_credentials/{credential['id']}"
    )
    listed = member.client.get(f"{V3}/users/{member.user.pk}/application_credentials?name=ci")

    # then
    assert shown.status_code == 200
    assert "secret" not in shown.json()["application_credential"]
    assert [c["id"] for c in listed.json()["application_credentials"]] == [credential["id"]]
    assert "secret" not in listed.json()["application_credentials"][0]


def test_token_by_id_is_scoped_to_the_project_and_works_on_compute(
    member: Caller, anonymous: APIClient
) -> None:
    # given
    credential = _create(member).json()["application_credential"]

    # when
    response = issue(anonymous, _by_id(credential))

    # then
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["methods"] == ["application_credential"]
    assert token["project"]["id"] == member.project.pk
    assert token["user"]["id"] == member.user.pk
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert token["application_credential"] == {
        "id": credential["id"],
        "name": "ci",
        "restricted": True,
    }
    assert token["catalog"]
    client = _client(response["X-Subject-Token"])
    assert client.get("/compute/v2.1/servers").status_code == 200


def test_token_by_name_and_user(member: Caller, anonymous: APIClient) -> None:
    # given
    credential = _create(member, secret="my-own-secret-1").json()["application_credential"]
    assert credential["secret"] == "my-own-secret-1"

    # when
    by_user_name = issue(
        anonymous,
        {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {
                        "name": "ci",
                        "secret": "my-own-secret-1",
                        "user": {"name": member.user.username, "domain": {"name": "Default"}},
                    },
                }
            }
        },
    )
    by_user_id = issue(
        anonymous,
        {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {
                        "name": "ci",
                        "secret": "my-own-secret-1",
                        "user": {"id": member.user.pk},
                    },
                }
            }
        },
    )

    # then
    assert by_user_name.status_code == by_user_id.status_code == 201
    assert by_user_name.json()["token"]["project"]["id"] == member.project.pk


def test_a_credential_with_fewer_roles_gives_a_token_with_only_those(
    member: Caller, anonymous: APIClient
) -> None:
    # given
    credential = _create(member, roles=[{"name": "reader"}]).json()["application_credential"]

    # when
    response = issue(anonymous, _by_id(credential))
    client = _client(response["X-Subject-Token"])
    validated = member.client.get(
        f"{V3}/auth/tokens", HTTP_X_SUBJECT_TOKEN=response["X-Subject-Token"]
    )

    # then
    assert [r["name"] for r in credential["roles"]] == ["reader"]
    assert [r["name"] for r in response.json()["token"]["roles"]] == ["reader"]
    assert [r["name"] for r in validated.json()["token"]["roles"]] == ["reader"]
    assert client.get("/compute/v2.1/os-server-groups").status_code == 200
    refused = client.post(
        "/compute/v2.1/os-server-groups",
        {"server_group": {"name": "g", "policies": ["affinity"]}},
        format="json",
    )
    assert refused.status_code == 403  # a member's write, and the token is a reader's


def test_roles_not_held_or_unknown_are_refused(member: Caller) -> None:
    # when
    not_held = _create(member, roles=[{"name": "admin"}])
    unknown = _create(member, roles=[{"id": "nope"}])

    # then
    assert "role assignment" in _error(not_held, 404)["message"]
    _error(unknown, 404)
    assert not ApplicationCredential.objects.exists()


def test_wrong_secret_unknown_id_and_scoped_requests_are_401(
    member: Caller, anonymous: APIClient
) -> None:
    # given
    credential = _create(member).json()["application_credential"]
    scoped = _by_id(credential)
    scoped["auth"]["scope"] = {"project": {"id": member.project.pk}}

    # then
    _error(issue(anonymous, _by_id(credential, secret="wrong")), 401)
    _error(issue(anonymous, _by_id({"id": "nope", "secret": "x"})), 401)
    _error(issue(anonymous, scoped), 401)


def test_deleting_a_credential_revokes_its_tokens(member: Caller, anonymous: APIClient) -> None:
    # given
    credential = _create(member).json()["application_credential"]
    token = issue(anonymous, _by_id(credential))["X-Subject-Token"]
    assert _client(token).get("/compute/v2.1/servers").status_code == 200

    # when
    deleted = member.client.delete(
        f"{V3}/users/{member.user.pk}/application_credentials/{credential['id']}"
    )

    # then
    assert deleted.status_code == 204
    assert _client(token).get("/compute/v2.1/servers").status_code == 401
    _error(issue(anonymous, _by_id(credential)), 401)
    _error(
        member.client.get(
            f"{V3}/users/{member.user.pk}/application_credentials/{credential['id']}"
        ),
        404,
    )
    assert member.client.get("/compute/v2.1/servers").status_code == 200  # theirs unaffected


def test_an_expired_credential_cannot_issue_and_its_tokens_die_with_it(
    member: Caller, anonymous: APIClient
) -> None:
    # given: a credential that expires in two seconds
    expires = datetime.now(UTC) + timedelta(seconds=2)
    credential = _create(member, expires_at=expires.isoformat()).json()["application_credential"]
    response = issue(anonymous, _by_id(credential))
    token_expiry = datetime.fromisoformat(response.json()["token"]["expires_at"])

    # then: the token never outlives the credential
    assert token_expiry <= expires
    assert credential["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))

    # when
    time.sleep(2.2)

    # then
    _error(issue(anonymous, _by_id(credential)), 401)
    assert _client(response["X-Subject-Token"]).get("/compute/v2.1/servers").status_code == 401


def test_a_past_expiry_is_a_400(member: Caller) -> None:
    # when
    response = _create(member, expires_at="2001-01-01T00:00:00Z")

    # then
    assert "expires_at" in _error(response, 400)["message"]


def test_a_disabled_user_or_lost_role_stops_the_credential(
    make_caller: Callable[..., Caller], anonymous: APIClient
) -> None:
    # given
    disabled = make_caller("member")
    demoted = make_caller("member")
    first = _create(disabled).json()["application_credential"]
    second = _create(demoted).json()["application_credential"]
    demoted_token = issue(anonymous, _by_id(second))["X-Subject-Token"]

    # when
    set_user_enabled(user=disabled.user, enabled=False)
    unassign_role(user=demoted.user, project=demoted.project, role="member")
    unassign_role(user=demoted.user, project=demoted.project, role="reader")

    # then
    _error(issue(anonymous, _by_id(first)), 401)
    _error(issue(anonymous, _by_id(second)), 401)
    assert _client(demoted_token).get("/compute/v2.1/servers").status_code == 401

    # when: the role comes back, the credential works again (it names roles, not grants)
    assign_roles(user=demoted.user, project=demoted.project, roles=["member"])

    # then
    assert issue(anonymous, _by_id(second)).status_code == 201


def test_a_restricted_credentials_token_cannot_make_credentials(
    member: Caller, anonymous: APIClient
) -> None:
    # given
    restricted = _create(member).json()["application_credential"]
    unrestricted = _create(member, name="admin-ci", unrestricted=True).json()[
        "application_credential"
    ]
    path = f"{V3}/users/{member.user.pk}/application_credentials"
    body = {"application_credential": {"name": "child"}}

    # when
    from_restricted = _client(issue(anonymous, _by_id(restricted))["X-Subject-Token"])
    from_unrestricted = _client(issue(anonymous, _by_id(unrestricted))["X-Subject-Token"])

    # then
    assert (
        "application_credential"
        in _error(from_restricted.post(path, body, format="json"), 403)["message"]
    )
    assert from_unrestricted.post(path, body, format="json").status_code == 201


def test_duplicate_names_are_a_409(member: Caller) -> None:
    # given
    assert _create(member).status_code == 201

    # when
    response = _create(member)

    # then
    assert "Duplicate" in _error(response, 409)["message"]
    assert ApplicationCredential.objects.filter(user=member.user).count() == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "x" * 256},
        {"unrestricted": "yes"},
        {"roles": "member"},
        {"roles": [{}]},
        {"secret": ""},
        {"access_rules": [{"path": "/v2.1/servers", "method": "GET", "service": "compute"}]},
        {"expires_at": "tomorrow"},
        {"project_id": "elsewhere"},
    ],
    ids=[
        "blank-name",
        "long-name",
        "string-unrestricted",
        "roles-not-a-list",
        "empty-role",
        "empty-secret",
        "access-rules",
        "bad-expiry",
        "unknown-key",
    ],
)
def test_malformed_bodies_are_a_400(member: Caller, fields: dict[str, Any]) -> None:
    # when
    response = _create(member, **fields)

    # then
    _error(response, 400)
    assert not ApplicationCredential.objects.exists()


def test_other_users_credentials_are_a_404_to_non_admins(
    member: Caller, make_caller: Callable[..., Caller]
) -> None:
    # given
    other = make_caller("member")
    theirs = _create(other).json()["application_credential"]
    path = f"{V3}/users/{other.user.pk}/application_credentials"

    # then
    _error(member.client.get(path), 404)
    _error(member.client.get(f"{path}/{theirs['id']}"), 404)
    _error(member.client.delete(f"{path}/{theirs['id']}"), 404)
    _error(member.client.post(path, {"application_credential": {"name": "x"}}, format="json"), 404)
    _error(
        member.client.get(f"{V3}/users/{member.user.pk}/application_credentials/{theirs['id']}"),
        404,
    )
    assert ApplicationCredential.objects.filter(pk=theirs["id"]).exists()


def test_admins_read_and_delete_anyones_but_create_only_their_own(
    admin: Caller, member: Caller
) -> None:
    # given
    theirs = _create(member).json()["application_credential"]
    path = f"{V3}/users/{member.user.pk}/application_credentials"

    # when
    listed = admin.client.get(path)
    created = admin.client.post(path, {"application_credential": {"name": "x"}}, format="json")
    deleted = admin.client.delete(f"{path}/{theirs['id']}")

    # then
    assert [c["id"] for c in listed.json()["application_credentials"]] == [theirs["id"]]
    assert "another user" in _error(created, 403)["message"]
    assert deleted.status_code == 204
    assert not ApplicationCredential.objects.exists()


def test_listing_credentials_costs_a_fixed_number_of_queries(
    member: Caller, django_assert_max_num_queries: Any
) -> None:
    # given
    for n in range(5):
        assert _create(member, name=f"ci-{n}", secret=f"secret-{n}").status_code == 201

    # when
    with django_assert_max_num_queries(4):
        listed = member.client.get(f"{V3}/users/{member.user.pk}/application_credentials")

    # then
    assert len(listed.json()["application_credentials"]) == 5

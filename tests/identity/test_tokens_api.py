"""POST /v3/auth/tokens: the request variants the clients send and the body they read."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from apps.identity.models import Project, Token, User
from apps.identity.services import assign_roles, set_project_enabled, set_user_enabled
from tests.factories import DomainFactory, ProjectFactory, UserFactory
from tests.identity.helpers import issue, password_body

TEMPEST_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
TIME_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def user(project: Project) -> User:
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["member"])
    return user


def test_scoped_token_is_created_with_the_body_keystone_sends(
    anonymous: APIClient, user: User, project: Project, settings: SettingsWrapper
) -> None:
    # given
    settings.PUBLIC_URL = "http://cloud.example:8000"

    # when
    response = issue(anonymous, password_body(user=user, project=project))

    # then
    assert response.status_code == 201
    assert response["X-Subject-Token"]
    token = response.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"] == {
        "id": user.pk,
        "name": user.username,
        "domain": {"id": "default", "name": "Default"},
        "password_expires_at": None,
    }
    assert token["project"] == {
        "id": project.pk,
        "name": project.name,
        "domain": {"id": "default", "name": "Default"},
    }
    assert token["is_domain"] is False
    assert sorted(role["name"] for role in token["roles"]) == ["member", "reader"]
    assert all(role["id"] for role in token["roles"])
    assert len(token["audit_ids"]) == 1
    assert TIME_FORMAT.match(token["issued_at"])
    assert TIME_FORMAT.match(token["expires_at"])
    # Tempest's own parse: strptime with this exact format
    issued = datetime.strptime(token["issued_at"], TEMPEST_FORMAT).replace(tzinfo=UTC)
    expires = datetime.strptime(token["expires_at"], TEMPEST_FORMAT).replace(tzinfo=UTC)
    lifetime = expires - issued
    assert lifetime == timedelta(seconds=3600)


def test_catalog_lists_identity_compute_and_image_on_three_interfaces(
    anonymous: APIClient, user: User, project: Project, settings: SettingsWrapper
) -> None:
    # given
    settings.PUBLIC_URL = "http://cloud.example:8000"

    # when
    catalog = issue(anonymous, password_body(user=user, project=project)).json()["token"]["catalog"]

    # then
    urls = {
        "identity": "http://cloud.example:8000/identity",
        "compute": "http://cloud.example:8000/compute/v2.1",
        "image": "http://cloud.example:8000/image",
        "network": "http://cloud.example:8000/network",
        "block-storage": "http://cloud.example:8000/volume/v3",
        "volumev3": "http://cloud.example:8000/volume/v3",
    }
    assert [service["type"] for service in catalog] == list(urls)
    for service in catalog:
        assert service["id"]
        assert service["name"]
        assert sorted(ep["interface"] for ep in service["endpoints"]) == [
            "admin",
            "internal",
            "public",
        ]
        for endpoint in service["endpoints"]:
            assert endpoint["url"] == urls[service["type"]]
            assert endpoint["region"] == endpoint["region_id"] == "RegionOne"
            assert endpoint["id"]


@pytest.mark.parametrize(
    "variant",
    [
        {"user_domain": {"id": "default"}, "project_domain": {"id": "default"}},
        {"by_user_id": True},
        {"by_project_id": True},
        {"by_user_id": True, "by_project_id": True},
    ],
    ids=["domain-ids", "user-id", "project-id", "both-ids"],
)
def test_user_and_project_may_be_named_by_id_or_by_name_and_domain(
    anonymous: APIClient, user: User, project: Project, variant: dict[str, object]
) -> None:
    # when
    response = issue(anonymous, password_body(user=user, project=project, **variant))

    # then
    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == project.pk


def test_project_in_another_domain_is_found_by_its_domain(anonymous: APIClient) -> None:
    # given
    other_domain = DomainFactory(id="d-other", name="Other")
    project = ProjectFactory(domain=other_domain, name="shared-name")
    ProjectFactory(name="shared-name")  # same name in Default
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["reader"])

    # when
    response = issue(
        anonymous, password_body(user=user, project=project, project_domain={"name": "Other"})
    )

    # then
    assert response.status_code == 201
    assert response.json()["token"]["project"]["domain"] == {"id": "d-other", "name": "Other"}


def test_nocatalog_leaves_the_catalog_out(
    anonymous: APIClient, user: User, project: Project
) -> None:
    # when
    response = issue(anonymous, password_body(user=user, project=project), query="?nocatalog")

    # then
    assert response.status_code == 201
    assert "catalog" not in response.json()["token"]
    assert response.json()["token"]["project"]["id"] == project.pk


def test_no_scope_gives_a_token_for_the_default_project(
    anonymous: APIClient, user: User, project: Project
) -> None:
    # given
    user.default_project = project
    user.save()

    # when
    response = issue(anonymous, password_body(user=user))

    # then
    assert response.status_code == 201
    token = response.json()["token"]
    assert token["project"]["id"] == project.pk
    assert token["catalog"]


@pytest.mark.parametrize("default_project", ["none", "without-role"])
def test_no_scope_and_no_usable_default_project_gives_an_unscoped_token(
    anonymous: APIClient, user: User, default_project: str
) -> None:
    # given
    if default_project == "without-role":
        user.default_project = ProjectFactory()
        user.save()

    # when
    response = issue(anonymous, password_body(user=user))

    # then
    assert response.status_code == 201
    token = response.json()["token"]
    assert "project" not in token
    assert "catalog" not in token
    assert Token.objects.get(audit_id=token["audit_ids"][0]).project is None


def _assert_keystone_401(response: object) -> None:
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }
    assert response["WWW-Authenticate"].startswith('Keystone uri="')  # type: ignore[index]
    assert response["WWW-Authenticate"].endswith('/identity"')  # type: ignore[index]


def test_wrong_password_is_a_keystone_401_with_www_authenticate(
    anonymous: APIClient, user: User, project: Project
) -> None:
    # when
    response = issue(anonymous, password_body(user=user, project=project, password="wrong"))

    # then
    _assert_keystone_401(response)


@pytest.mark.parametrize(
    "case", ["unknown-user", "no-role", "disabled-project", "disabled-user", "wrong-domain"]
)
def test_each_refusal_is_the_same_401(
    anonymous: APIClient, user: User, project: Project, case: str
) -> None:
    # given
    body = password_body(user=user, project=project)
    if case == "unknown-user":
        body = password_body(username="nobody-here", project=project)
    elif case == "no-role":
        body = password_body(user=user, project=ProjectFactory())
    elif case == "disabled-project":
        set_project_enabled(project=project, enabled=False)
    elif case == "disabled-user":
        set_user_enabled(user=user, enabled=False)
    elif case == "wrong-domain":
        body = password_body(user=user, project=project, user_domain={"name": "Elsewhere"})

    # when
    response = issue(anonymous, body)

    # then
    _assert_keystone_401(response)


@pytest.mark.parametrize(
    "scope",
    [
        {"domain": {"id": "default"}},
        {"system": {"all": True}},
        {"OS-TRUST:trust": {"id": "t1"}},
    ],
    ids=["domain", "system", "trust"],
)
def test_scopes_other_than_project_are_refused(
    anonymous: APIClient, user: User, scope: dict[str, object]
) -> None:
    # when
    response = issue(anonymous, password_body(user=user, scope=scope))

    # then
    assert response.status_code == 401


def test_methods_other_than_password_are_refused(anonymous: APIClient, user: User) -> None:
    # given
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": "abc"}}}}

    # when
    response = issue(anonymous, body)

    # then
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"auth": {}},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "x"}}}}},
        {"auth": {"identity": {"methods": [], "password": {}}}},
    ],
    ids=["empty", "no-identity", "no-password", "no-methods"],
)
def test_malformed_request_is_a_keystone_400(anonymous: APIClient, body: dict[str, object]) -> None:
    # when
    response = issue(anonymous, body)

    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["title"] == "Bad Request"
    assert error["message"]


def test_issuing_ignores_a_stale_token_sent_along(
    anonymous: APIClient, user: User, project: Project
) -> None:
    # given
    anonymous.credentials(HTTP_X_AUTH_TOKEN="long-gone")

    # when
    response = issue(anonymous, password_body(user=user, project=project))

    # then
    assert response.status_code == 201


def test_issued_token_authenticates_later_requests(
    anonymous: APIClient, user: User, project: Project
) -> None:
    # given
    secret = issue(anonymous, password_body(user=user, project=project))["X-Subject-Token"]
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=secret)

    # when
    response = client.get("/identity/v3/auth/projects")

    # then
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["projects"]] == [project.pk]


def test_only_the_hash_of_the_token_is_stored(
    anonymous: APIClient, user: User, project: Project
) -> None:
    # when
    secret = issue(anonymous, password_body(user=user, project=project))["X-Subject-Token"]

    # then
    record = Token.objects.get(user=user)
    assert secret not in record.token_hash
    assert len(secret) >= 43  # 256 bits, url-safe base64

"""Keystone v3 administration through the API: projects, users, grants, role assignments,
roles and domains, as an admin uses them and as a non-admin attacks them."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.identity.models import Domain, Project, Role, RoleAssignment, User
from apps.identity.services import ensure_roles
from tests.conftest import Caller
from tests.factories import DomainFactory, ProjectFactory, UserFactory
from tests.identity.helpers import issue, password_body

pytestmark = pytest.mark.django_db

V3 = "/identity/v3"


def _error(response: Any, code: int) -> dict[str, Any]:
    """Keystone's error body, checked; returns it for the message."""
    assert response.status_code == code, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["title"]
    assert error["message"]
    return error


def _role(name: str) -> Role:
    return ensure_roles()[name]


# --- projects --------------------------------------------------------------------------------


def test_admin_creates_shows_updates_and_deletes_a_project(admin: Caller) -> None:
    # when
    created = admin.client.post(
        f"{V3}/projects",
        {"project": {"name": "web", "description": "web tier", "domain_id": "default"}},
        format="json",
    )

    # then
    assert created.status_code == 201
    project = created.json()["project"]
    assert project["name"] == "web"
    assert project["description"] == "web tier"
    assert project["domain_id"] == project["parent_id"] == "default"
    assert project["enabled"] is True
    assert project["links"]["self"].endswith(f"/identity/v3/projects/{project['id']}")

    # when
    updated = admin.client.patch(
        f"{V3}/projects/{project['id']}",
        {"project": {"name": "web2", "description": "", "enabled": False}},
        format="json",
    )

    # then
    assert updated.status_code == 200
    assert updated.json()["project"] | {"links": None} == project | {
        "name": "web2",
        "description": "",
        "enabled": False,
        "links": None,
    }
    assert Project.objects.get(pk=project["id"]).enabled is False

    # when
    deleted = admin.client.delete(f"{V3}/projects/{project['id']}")

    # then
    assert deleted.status_code == 204
    _error(admin.client.get(f"{V3}/projects/{project['id']}"), 404)


def test_project_list_filters_by_name_domain_and_enabled(admin: Caller) -> None:
    # given
    second = DomainFactory(id="d2", name="Second")
    in_second = ProjectFactory(name="shared-name", domain=second)
    in_default = ProjectFactory(name="shared-name")
    disabled = ProjectFactory(enabled=False)

    # when
    by_name = admin.client.get(f"{V3}/projects?name=shared-name").json()["projects"]
    by_both = admin.client.get(f"{V3}/projects?name=shared-name&domain_id=d2").json()["projects"]
    off = admin.client.get(f"{V3}/projects?enabled=false").json()["projects"]

    # then
    assert {p["id"] for p in by_name} == {in_second.pk, in_default.pk}
    assert [p["id"] for p in by_both] == [in_second.pk]
    assert [p["id"] for p in off] == [disabled.pk]


def test_duplicate_project_name_in_a_domain_is_a_409(admin: Caller) -> None:
    # given
    existing = ProjectFactory(name="taken")
    other = ProjectFactory(name="free")

    # when
    created = admin.client.post(f"{V3}/projects", {"project": {"name": "taken"}}, format="json")
    renamed = admin.client.patch(
        f"{V3}/projects/{other.pk}", {"project": {"name": existing.name}}, format="json"
    )

    # then
    assert "same name" in _error(created, 409)["message"]
    _error(renamed, 409)
    assert Project.objects.get(pk=other.pk).name == "free"


def test_the_same_project_name_in_another_domain_is_allowed(admin: Caller) -> None:
    # given
    ProjectFactory(name="ops")
    DomainFactory(id="d2", name="Second")

    # when
    response = admin.client.post(
        f"{V3}/projects", {"project": {"name": "ops", "domain_id": "d2"}}, format="json"
    )

    # then
    assert response.status_code == 201
    assert response.json()["project"]["domain_id"] == "d2"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"project": "web"},
        {"project": {}},
        {"project": {"name": ""}},
        {"project": {"name": "x" * 65}},
        {"project": {"name": "web", "enabled": "yes"}},
        {"project": {"name": "web", "description": "d" * 5000}},
        {"project": {"name": "web", "is_domain": True}},
        {"project": {"name": "web", "parent_id": "some-project"}},
        {"project": {"name": "web"}, "extra": 1},
    ],
    ids=[
        "empty",
        "not-an-object",
        "no-name",
        "blank-name",
        "long-name",
        "string-enabled",
        "long-description",
        "is-domain",
        "hierarchy",
        "unknown-top-level-key",
    ],
)
def test_malformed_project_bodies_are_a_400(admin: Caller, body: dict[str, Any]) -> None:
    # when
    response = admin.client.post(f"{V3}/projects", body, format="json")

    # then
    _error(response, 400)
    assert not Project.objects.filter(name="web").exists()


def test_project_in_an_unknown_domain_is_a_404(admin: Caller) -> None:
    # when
    response = admin.client.post(
        f"{V3}/projects", {"project": {"name": "web", "domain_id": "nowhere"}}, format="json"
    )

    # then
    assert "nowhere" in _error(response, 404)["message"]


def test_non_admins_may_not_write_projects(member: Caller) -> None:
    # given: their own project, which they can read
    own = member.project.pk

    # when
    created = member.client.post(f"{V3}/projects", {"project": {"name": "mine"}}, format="json")
    updated = member.client.patch(
        f"{V3}/projects/{own}", {"project": {"enabled": False}}, format="json"
    )
    deleted = member.client.delete(f"{V3}/projects/{own}")

    # then
    for response in (created, updated, deleted):
        assert "identity:" in _error(response, 403)["message"]
    project = Project.objects.get(pk=own)
    assert project.enabled is True
    assert not Project.objects.filter(name="mine").exists()


def test_unknown_project_ids_are_a_404_for_admins(admin: Caller) -> None:
    # when
    patched = admin.client.patch(f"{V3}/projects/nope", {"project": {"name": "x"}}, format="json")
    deleted = admin.client.delete(f"{V3}/projects/nope")

    # then
    assert _error(patched, 404)["message"] == "Could not find project: nope."
    _error(deleted, 404)


# --- users -----------------------------------------------------------------------------------


def test_admin_creates_a_user_who_can_then_sign_in(admin: Caller, anonymous: APIClient) -> None:
    # given
    project = ProjectFactory()

    # when
    created = admin.client.post(
        f"{V3}/users",
        {
            "user": {
                "name": "alice",
                "password": "alice-password-1",
                "default_project_id": project.pk,
                "email": "alice@example.org",
                "description": "the operator",
                "enabled": True,
            }
        },
        format="json",
    )
    user = created.json()["user"]
    granted = admin.client.put(
        f"{V3}/projects/{project.pk}/users/{user['id']}/roles/{_role('member').pk}"
    )
    token = issue(anonymous, password_body(username="alice", password="alice-password-1"))

    # then
    assert created.status_code == 201
    assert user["name"] == "alice"
    assert user["domain_id"] == "default"
    assert user["default_project_id"] == project.pk
    assert user["email"] == "alice@example.org"
    assert user["description"] == "the operator"
    assert user["enabled"] is True
    assert "password" not in user
    assert user["links"]["self"].endswith(f"/identity/v3/users/{user['id']}")
    assert granted.status_code == 204
    assert token.status_code == 201
    assert token.json()["token"]["project"]["id"] == project.pk  # the default project


def test_admin_updates_a_users_password_and_disables_them(
    admin: Caller, make_caller: Callable[..., Caller], anonymous: APIClient
) -> None:
    # given
    target = make_caller("member")

    # when
    changed = admin.client.patch(
        f"{V3}/users/{target.user.pk}",
        {"user": {"password": "a-new-password", "email": "t@example.org"}},
        format="json",
    )
    old = issue(anonymous, password_body(user=target.user, project=target.project))
    new = issue(
        anonymous,
        password_body(user=target.user, password="a-new-password", project=target.project),
    )

    # then
    assert changed.status_code == 200
    assert changed.json()["user"]["email"] == "t@example.org"
    assert old.status_code == 401
    assert new.status_code == 201

    # when
    disabled = admin.client.patch(
        f"{V3}/users/{target.user.pk}", {"user": {"enabled": False}}, format="json"
    )

    # then: their tokens are revoked
    assert disabled.json()["user"]["enabled"] is False
    assert target.client.get(f"{V3}/users/{target.user.pk}").status_code == 401


def test_user_list_filters_and_delete(admin: Caller) -> None:
    # given
    second = DomainFactory(id="d2", name="Second")
    elsewhere = UserFactory(username="bob", domain=second)

    # when
    by_name = admin.client.get(f"{V3}/users?name=bob").json()["users"]
    by_domain = admin.client.get(f"{V3}/users?domain_id=d2").json()["users"]
    deleted = admin.client.delete(f"{V3}/users/{elsewhere.pk}")

    # then
    assert [u["id"] for u in by_name] == [elsewhere.pk]
    assert [u["id"] for u in by_domain] == [elsewhere.pk]
    assert deleted.status_code == 204
    assert not User.objects.filter(pk=elsewhere.pk).exists()
    _error(admin.client.get(f"{V3}/users/{elsewhere.pk}"), 404)


@pytest.mark.parametrize(
    ("query", "enabled"),
    [("enabled", True), ("enabled=1", True), ("enabled=yes", True), ("enabled=Off", False)],
)
def test_the_enabled_filter_reads_a_flag_as_keystone_does(
    admin: Caller, query: str, enabled: bool
) -> None:
    # given: an enabled and a disabled user and project
    on, off = UserFactory(username="on-user"), UserFactory(username="off-user", is_active=False)
    shown, hidden = ProjectFactory(name="on-project"), ProjectFactory(enabled=False)

    # when
    users = {u["id"] for u in admin.client.get(f"{V3}/users?{query}").json()["users"]}
    projects = {p["id"] for p in admin.client.get(f"{V3}/projects?{query}").json()["projects"]}

    # then: "?enabled" with no value is true, "off" in any case false
    assert (on.pk in users, off.pk in users) == (enabled, not enabled)
    assert (shown.pk in projects, hidden.pk in projects) == (enabled, not enabled)


def test_duplicate_user_name_is_a_409(admin: Caller) -> None:
    # given
    UserFactory(username="carol")
    dave = UserFactory(username="dave")

    # when
    created = admin.client.post(f"{V3}/users", {"user": {"name": "carol"}}, format="json")
    renamed = admin.client.patch(
        f"{V3}/users/{dave.pk}", {"user": {"name": "carol"}}, format="json"
    )

    # then
    _error(created, 409)
    _error(renamed, 409)
    assert User.objects.get(pk=dave.pk).username == "dave"


@pytest.mark.parametrize(
    "body",
    [
        {"user": {}},
        {"user": {"name": "x" * 151}},
        {"user": {"name": "eve", "enabled": 1}},
        {"user": {"name": "eve", "email": "not-an-address"}},
        {"user": {"name": "eve", "password": "p" * 5000}},
        {"user": ["eve"]},
    ],
    ids=["no-name", "long-name", "int-enabled", "bad-email", "long-password", "list"],
)
def test_malformed_user_bodies_are_a_400(admin: Caller, body: dict[str, Any]) -> None:
    # when
    response = admin.client.post(f"{V3}/users", body, format="json")

    # then
    _error(response, 400)
    assert not User.objects.filter(username="eve").exists()


def test_user_with_an_unknown_default_project_or_domain_is_a_404(admin: Caller) -> None:
    # when
    no_project = admin.client.post(
        f"{V3}/users", {"user": {"name": "eve", "default_project_id": "nope"}}, format="json"
    )
    no_domain = admin.client.post(
        f"{V3}/users", {"user": {"name": "eve", "domain_id": "nope"}}, format="json"
    )

    # then
    _error(no_project, 404)
    _error(no_domain, 404)
    assert not User.objects.filter(username="eve").exists()


def test_non_admins_may_not_write_users_even_themselves(
    member: Caller, make_caller: Callable[..., Caller]
) -> None:
    # given
    other = make_caller("member")

    # when
    created = member.client.post(f"{V3}/users", {"user": {"name": "eve"}}, format="json")
    promoted = member.client.patch(
        f"{V3}/users/{member.user.pk}", {"user": {"name": "renamed"}}, format="json"
    )
    deleted = member.client.delete(f"{V3}/users/{other.user.pk}")

    # then
    for response in (created, promoted, deleted):
        _error(response, 403)
    assert User.objects.filter(pk=other.user.pk).exists()
    assert User.objects.get(pk=member.user.pk).username == member.user.username


def test_a_users_projects_are_theirs_to_list_and_404_to_others(
    member: Caller, make_caller: Callable[..., Caller], admin: Caller
) -> None:
    # given
    other = make_caller("member")

    # when
    own = member.client.get(f"{V3}/users/{member.user.pk}/projects")
    others = member.client.get(f"{V3}/users/{other.user.pk}/projects")
    as_admin = admin.client.get(f"{V3}/users/{other.user.pk}/projects")

    # then
    assert [p["id"] for p in own.json()["projects"]] == [member.project.pk]
    _error(others, 404)
    assert [p["id"] for p in as_admin.json()["projects"]] == [other.project.pk]


# --- grants and role assignments -------------------------------------------------------------


def test_the_service_role_is_granted_like_any_other_and_opens_nothing_of_a_project(
    admin: Caller,
) -> None:
    # given: a service user (as Tempest's dynamic credentials make one) on a project
    project, user = ProjectFactory(), UserFactory()
    grant = f"{V3}/projects/{project.pk}/users/{user.pk}/roles/{_role('service').pk}"

    # when
    granted = admin.client.put(grant)
    token = issue(APIClient(), password_body(user=user, project=project))
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token["X-Subject-Token"])
    servers = client.get("/compute/v2.1/servers")
    networks = client.get("/network/v2.0/networks")

    # then: a token scoped to the project, with that role only, and no read of the project
    assert granted.status_code == 204
    assert [r["name"] for r in token.json()["token"]["roles"]] == ["service"]
    assert (servers.status_code, networks.status_code) == (403, 403)


def test_grant_check_list_and_revoke(admin: Caller) -> None:
    # given
    project, user = ProjectFactory(), UserFactory()
    member_role = _role("member")
    grant = f"{V3}/projects/{project.pk}/users/{user.pk}/roles/{member_role.pk}"

    # when
    before = admin.client.head(grant)
    put = admin.client.put(grant)
    again = admin.client.put(grant)
    after = admin.client.head(grant)
    listed = admin.client.get(f"{V3}/projects/{project.pk}/users/{user.pk}/roles")

    # then
    assert before.status_code == 404
    assert put.status_code == again.status_code == after.status_code == 204
    # member implies reader (stored as its own grant)
    assert {r["name"] for r in listed.json()["roles"]} == {"member", "reader"}

    # when
    revoked = admin.client.delete(grant)
    revoked_again = admin.client.delete(grant)

    # then
    assert revoked.status_code == 204
    assert "Could not find role assignment" in _error(revoked_again, 404)["message"]
    assert admin.client.head(grant).status_code == 404
    assert not RoleAssignment.objects.filter(user=user, role=member_role).exists()


def test_grants_on_unknown_things_are_a_404(admin: Caller) -> None:
    # given
    project, user = ProjectFactory(), UserFactory()
    role = _role("member")

    # then
    _error(admin.client.put(f"{V3}/projects/nope/users/{user.pk}/roles/{role.pk}"), 404)
    _error(admin.client.put(f"{V3}/projects/{project.pk}/users/nope/roles/{role.pk}"), 404)
    _error(admin.client.put(f"{V3}/projects/{project.pk}/users/{user.pk}/roles/nope"), 404)
    assert not RoleAssignment.objects.filter(user=user).exists()


def test_non_admins_may_not_grant_themselves_or_read_grants(member: Caller) -> None:
    # given
    admin_role = _role("admin")
    base = f"{V3}/projects/{member.project.pk}/users/{member.user.pk}/roles"

    # then
    _error(member.client.put(f"{base}/{admin_role.pk}"), 403)
    _error(member.client.delete(f"{base}/{_role('member').pk}"), 403)
    _error(member.client.get(base), 403)
    _error(member.client.get(f"{V3}/role_assignments"), 403)
    assert not RoleAssignment.objects.filter(user=member.user, role=admin_role).exists()


def test_role_assignments_filter_and_include_names(admin: Caller) -> None:
    # given
    project, user = ProjectFactory(), UserFactory()
    reader = _role("reader")
    admin.client.put(f"{V3}/projects/{project.pk}/users/{user.pk}/roles/{reader.pk}")

    # when
    plain = admin.client.get(
        f"{V3}/role_assignments?user.id={user.pk}&scope.project.id={project.pk}"
    ).json()["role_assignments"]
    named = admin.client.get(
        f"{V3}/role_assignments?user.id={user.pk}&include_names=True&effective"
    ).json()["role_assignments"]
    by_role = admin.client.get(f"{V3}/role_assignments?role.id={reader.pk}").json()
    groups = admin.client.get(f"{V3}/role_assignments?group.id=g1").json()

    # then
    assert plain == [
        {
            "role": {"id": reader.pk},
            "user": {"id": user.pk},
            "scope": {"project": {"id": project.pk}},
            "links": {
                "assignment": plain[0]["links"]["assignment"],
            },
        }
    ]
    assert plain[0]["links"]["assignment"].endswith(
        f"/identity/v3/projects/{project.pk}/users/{user.pk}/roles/{reader.pk}"
    )
    assert named[0]["role"] == {"id": reader.pk, "name": "reader"}
    assert named[0]["user"]["name"] == user.username
    assert named[0]["scope"]["project"]["domain"] == {"id": "default", "name": "Default"}
    assert {a["user"]["id"] for a in by_role["role_assignments"]} >= {user.pk, admin.user.pk}
    assert groups["role_assignments"] == []


def test_roles_are_readable_by_everyone_by_name_or_id(member: Caller) -> None:
    # given
    member_role = _role("member")

    # when
    listed = member.client.get(f"{V3}/roles?name=member").json()["roles"]
    shown = member.client.get(f"{V3}/roles/{member_role.pk}")
    by_name_as_id = member.client.get(f"{V3}/roles/member")

    # then
    assert [r["id"] for r in listed] == [member_role.pk]
    assert shown.json()["role"]["name"] == "member"
    assert shown.json()["role"]["links"]["self"].endswith(f"/identity/v3/roles/{member_role.pk}")
    _error(by_name_as_id, 404)  # OSC then asks ?name=


# --- domains ---------------------------------------------------------------------------------


def test_domains_are_read_only_and_scoped(admin: Caller, member: Caller) -> None:
    # given
    DomainFactory(id="d2", name="Second")

    # when
    for_admin = admin.client.get(f"{V3}/domains").json()["domains"]
    by_name = admin.client.get(f"{V3}/domains?name=Second").json()["domains"]
    for_member = member.client.get(f"{V3}/domains").json()["domains"]
    hidden = member.client.get(f"{V3}/domains/d2")
    unknown = member.client.get(f"{V3}/domains/nope")
    own = member.client.get(f"{V3}/domains/default")
    write = admin.client.post(f"{V3}/domains", {"domain": {"name": "x"}}, format="json")

    # then
    assert {d["id"] for d in for_admin} == {"default", "d2"}
    assert [d["id"] for d in by_name] == ["d2"]
    assert [d["id"] for d in for_member] == ["default"]
    assert _error(hidden, 404)["message"] == _error(unknown, 404)["message"].replace("nope", "d2")
    assert own.json()["domain"]["name"] == "Default"
    _error(write, 403)  # domains are not created through the API (no rule: closed)
    assert not Domain.objects.filter(name="x").exists()


# --- odd input and query budgets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/projects", {"project": {"name": "nul\x00name"}}),
        ("post", "/users", {"user": {"name": "nul\x00name"}}),
        ("get", "/projects?name=nul%00name", None),
        ("get", "/users?domain_id=%00", None),
        ("get", "/role_assignments?user.id=%00", None),
        ("get", "/domains?name=%00", None),
    ],
    ids=["project-name", "user-name", "project-filter", "user-filter", "assignments", "domains"],
)
def test_nul_characters_are_a_400_never_a_500(
    admin: Caller, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # when
    response = getattr(admin.client, method)(f"{V3}{path}", body, format="json")

    # then
    _error(response, 400)


def test_a_body_that_is_not_json_is_a_400(admin: Caller) -> None:
    # when
    response = admin.client.post(f"{V3}/projects", "{not json", content_type="application/json")

    # then
    _error(response, 400)


def test_lists_cost_a_fixed_number_of_queries(
    admin: Caller, django_assert_max_num_queries: Any
) -> None:
    # given: twenty users with a grant each
    member_role = _role("member")
    for _ in range(20):
        user, project = UserFactory(), ProjectFactory()
        admin.client.put(f"{V3}/projects/{project.pk}/users/{user.pk}/roles/{member_role.pk}")

    # then: token check, then one query per list
    with django_assert_max_num_queries(3):
        assignments = admin.client.get(f"{V3}/role_assignments?include_names")
    with django_assert_max_num_queries(3):
        projects = admin.client.get(f"{V3}/projects")
    with django_assert_max_num_queries(3):
        users = admin.client.get(f"{V3}/users")
    assert len(assignments.json()["role_assignments"]) >= 40
    assert len(projects.json()["projects"]) >= 21
    assert len(users.json()["users"]) >= 21


def test_tempests_dynamic_credentials_sequence(admin: Caller, anonymous: APIClient) -> None:
    """What tempest.lib's DynamicCredentialProvider and V3CredsClient send for one test
    class's member and its clean-up, body for body (tempest 47)."""
    # when: find the domain, make a project and a user, find the role, grant it
    domain = admin.client.get(f"{V3}/domains?name=Default").json()["domains"][0]
    project = admin.client.post(
        f"{V3}/projects",
        {
            "project": {
                "name": "tempest-ServersTestJSON-1047297334",
                "description": "tempest-ServersTestJSON-1047297334-desc",
                "domain_id": domain["id"],
            }
        },
        format="json",
    )
    user = admin.client.post(
        f"{V3}/users",
        {
            "user": {
                "name": "tempest-ServersTestJSON-1047297334-project",
                "password": "Rand0m+Pass",
                "domain_id": domain["id"],
            }
        },
        format="json",
    )
    roles = admin.client.get(f"{V3}/roles").json()["roles"]
    member = next(r for r in roles if r["name"].lower() == "member")
    project_id, user_id = project.json()["project"]["id"], user.json()["user"]["id"]
    grant = admin.client.put(f"{V3}/projects/{project_id}/users/{user_id}/roles/{member['id']}")
    token = issue(
        anonymous,
        password_body(
            username="tempest-ServersTestJSON-1047297334-project",
            password="Rand0m+Pass",
            user_domain={"id": domain["id"]},
            scope={
                "project": {
                    "name": "tempest-ServersTestJSON-1047297334",
                    "domain": {"id": domain["id"]},
                }
            },
        ),
    )

    # then: the statuses Tempest's clients insist on
    assert (project.status_code, user.status_code, grant.status_code) == (201, 201, 204)
    assert token.status_code == 201
    assert [r["name"] for r in token.json()["token"]["roles"]] == ["member", "reader"]

    # when: its clean-up
    user_deleted = admin.client.delete(f"{V3}/users/{user_id}")
    project_deleted = admin.client.delete(f"{V3}/projects/{project_id}")

    # then
    assert (user_deleted.status_code, project_deleted.status_code) == (204, 204)

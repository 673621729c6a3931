"""Read-only project and user lookups (KEYSTONE-SUBSET.md §6), the caller's projects and
catalog: admins see everything, others what they hold a role on and themselves."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.identity.services import assign_roles, set_project_enabled
from apps.identity.tokens import issue_token
from tests.conftest import Caller
from tests.factories import DomainFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_project_by_id_has_keystones_fields(member: Caller) -> None:
    # when
    response = member.client.get(f"/identity/v3/projects/{member.project.pk}")

    # then
    assert response.status_code == 200
    project = response.json()["project"]
    assert project["id"] == member.project.pk
    assert project["name"] == member.project.name
    assert project["domain_id"] == project["parent_id"] == "default"
    assert project["enabled"] is True
    assert project["is_domain"] is False
    assert project["links"]["self"].endswith(f"/identity/v3/projects/{member.project.pk}")


def test_project_by_name_is_a_404_then_found_by_the_name_filter(member: Caller) -> None:
    # given: what `openstack quota show NAME` does
    name = member.project.name

    # when
    by_id = member.client.get(f"/identity/v3/projects/{name}")
    by_name = member.client.get(f"/identity/v3/projects?name={name}")

    # then
    assert by_id.status_code == 404
    assert by_id.json()["error"]["code"] == 404
    assert [p["id"] for p in by_name.json()["projects"]] == [member.project.pk]
    assert by_name.json()["links"]["next"] is None


def test_another_projects_details_are_a_404_for_non_admins(member: Caller) -> None:
    # given
    other = ProjectFactory()

    # when
    by_id = member.client.get(f"/identity/v3/projects/{other.pk}")
    by_name = member.client.get(f"/identity/v3/projects?name={other.name}")

    # then
    assert by_id.status_code == 404
    assert by_name.json()["projects"] == []


def test_admin_sees_every_project_and_filters_by_domain(admin: Caller) -> None:
    # given
    other_domain = DomainFactory(id="d2", name="Second")
    in_other = ProjectFactory(domain=other_domain)

    # when
    everything = admin.client.get("/identity/v3/projects").json()["projects"]
    in_domain = admin.client.get("/identity/v3/projects?domain_id=d2").json()["projects"]
    shown = admin.client.get(f"/identity/v3/projects/{in_other.pk}")

    # then
    assert {admin.project.pk, in_other.pk} <= {p["id"] for p in everything}
    assert [p["id"] for p in in_domain] == [in_other.pk]
    assert shown.status_code == 200


def test_user_lookups_by_id_and_name(member: Caller) -> None:
    # when
    by_id = member.client.get(f"/identity/v3/users/{member.user.pk}")
    by_name = member.client.get(f"/identity/v3/users?name={member.user.username}")

    # then
    assert by_id.status_code == 200
    user = by_id.json()["user"]
    assert user["name"] == member.user.username
    assert user["domain_id"] == "default"
    assert user["enabled"] is True
    assert [u["id"] for u in by_name.json()["users"]] == [member.user.pk]


def test_other_users_are_invisible_to_non_admins_but_not_to_admins(
    make_caller: Callable[..., Caller], member: Caller, admin: Caller
) -> None:
    # given
    other = make_caller("member")

    # then
    assert member.client.get(f"/identity/v3/users/{other.user.pk}").status_code == 404
    assert member.client.get(f"/identity/v3/users?name={other.user.username}").json()["users"] == []
    assert admin.client.get(f"/identity/v3/users/{other.user.pk}").status_code == 200


def test_lookups_need_a_token(anonymous: APIClient) -> None:
    # when
    response = anonymous.get("/identity/v3/projects")

    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Keystone uri=")


def test_auth_projects_lists_enabled_projects_with_a_role(member: Caller) -> None:
    # given
    second = ProjectFactory()
    disabled = ProjectFactory()
    assign_roles(user=member.user, project=second, roles=["reader"])
    assign_roles(user=member.user, project=disabled, roles=["reader"])
    set_project_enabled(project=disabled, enabled=False)

    # when
    projects = member.client.get("/identity/v3/auth/projects").json()["projects"]

    # then
    assert {p["id"] for p in projects} == {member.project.pk, second.pk}


def test_auth_catalog_needs_a_project_scoped_token(member: Caller) -> None:
    # given
    unscoped = APIClient()
    unscoped.credentials(
        HTTP_X_AUTH_TOKEN=issue_token(user=member.user, project=None, methods=["password"]).token
    )

    # when
    scoped = member.client.get("/identity/v3/auth/catalog")
    refused = unscoped.get("/identity/v3/auth/catalog")

    # then
    assert scoped.status_code == 200
    catalog = {s["type"] for s in scoped.json()["catalog"]}
    assert catalog == {"identity", "compute", "image", "network", "block-storage", "volumev3"}
    assert refused.status_code == 403
    assert "project-scoped" in refused.json()["error"]["message"]

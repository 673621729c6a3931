"""The Django admin pages for the identity model load, and their actions call the services."""

import pytest
from django.test import Client

from apps.identity.models import Role, RoleAssignment, Token, User
from apps.identity.services import assign_roles
from apps.identity.tokens import find_valid_token, issue_token
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client: Client) -> Client:
    superuser = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("model", ["domain", "project", "user", "role", "roleassignment", "token"])
def test_changelist_and_add_pages_load(operator: Client, model: str) -> None:
    # given
    ProjectFactory()
    issue_token(user=UserFactory(), project=None, methods=["password"])

    # when
    changelist = operator.get(f"/admin/identity/{model}/")
    add = operator.get(f"/admin/identity/{model}/add/")

    # then
    assert changelist.status_code == 200
    assert add.status_code == (403 if model == "token" else 200)


def test_disable_users_action_revokes_their_tokens(operator: Client) -> None:
    # given
    user = UserFactory()
    secret = issue_token(user=user, project=None, methods=["password"]).token

    # when
    response = operator.post(
        "/admin/identity/user/",
        {"action": "disable_users", "_selected_action": [user.pk]},
    )

    # then
    assert response.status_code == 302
    assert not User.objects.get(pk=user.pk).is_active
    assert Token.objects.get(user=user).revoked_at is not None
    assert find_valid_token(secret) is None


def test_a_role_granted_in_the_admin_brings_its_implied_roles(operator: Client) -> None:
    # given
    user, project = UserFactory(), ProjectFactory()
    member = Role.objects.get_or_create(name="member")[0]
    # when
    response = operator.post(
        "/admin/identity/roleassignment/add/",
        {"user": user.pk, "project": project.pk, "role": member.pk},
    )
    # then: member implies reader, as the service grants it
    assert response.status_code == 302
    assert set(
        RoleAssignment.objects.filter(user=user, project=project).values_list(
            "role__name", flat=True
        )
    ) == {"member", "reader"}


def test_removing_the_last_role_in_the_admin_revokes_the_users_tokens(operator: Client) -> None:
    # given
    user, project = UserFactory(), ProjectFactory()
    assign_roles(user=user, project=project, roles=["reader"])
    secret = issue_token(user=user, project=project, methods=["password"]).token
    grant = RoleAssignment.objects.get(user=user, project=project)
    # when
    response = operator.post(
        "/admin/identity/roleassignment/",
        {"action": "delete_selected", "_selected_action": [grant.pk], "post": "yes"},
    )
    # then
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(user=user).exists()
    assert find_valid_token(secret) is None


def test_a_grant_is_not_turned_into_another(operator: Client) -> None:
    user, project = UserFactory(), ProjectFactory()
    assign_roles(user=user, project=project, roles=["reader"])
    grant = RoleAssignment.objects.get(user=user, project=project)
    admin_role = Role.objects.get_or_create(name="admin")[0]
    operator.post(
        f"/admin/identity/roleassignment/{grant.pk}/change/",
        {"user": user.pk, "project": project.pk, "role": admin_role.pk},
    )
    assert list(RoleAssignment.objects.filter(user=user).values_list("role__name", flat=True)) == [
        "reader"
    ]


def test_the_role_inline_of_a_project_saves_through_the_service(operator: Client) -> None:
    # given: a project whose only grant is a reader's, with a token scoped there
    project, reader, newcomer = ProjectFactory(), UserFactory(), UserFactory()
    assign_roles(user=reader, project=project, roles=["reader"])
    secret = issue_token(user=reader, project=project, methods=["password"]).token
    grant = RoleAssignment.objects.get(user=reader)
    member = Role.objects.get_or_create(name="member")[0]
    prefix = "role_assignments"
    # when: the reader's grant removed and a member's added, on the project's page
    response = operator.post(
        f"/admin/identity/project/{project.pk}/change/",
        {
            "name": project.name, "domain": project.domain_id, "description": "",
            "enabled": "on",
            f"{prefix}-TOTAL_FORMS": "2", f"{prefix}-INITIAL_FORMS": "1",
            f"{prefix}-0-id": grant.pk, f"{prefix}-0-project": project.pk,
            f"{prefix}-0-user": reader.pk, f"{prefix}-0-role": grant.role_id,
            f"{prefix}-0-DELETE": "on",
            f"{prefix}-1-project": project.pk, f"{prefix}-1-user": newcomer.pk,
            f"{prefix}-1-role": member.pk,
        },
    )  # fmt: skip
    # then
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert find_valid_token(secret) is None
    assert set(
        RoleAssignment.objects.filter(project=project).values_list("user_id", "role__name")
    ) == {(newcomer.pk, "member"), (newcomer.pk, "reader")}

"""The Django admin pages for the identity model load, and their actions call the services."""

import pytest
from django.test import Client

from apps.identity.models import Token, User
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

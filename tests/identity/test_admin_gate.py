"""Who gets into the admin: operators only. An active staff user who is a superuser or holds
the admin role in its project; a member or reader of a project is refused at the sign-in form
and on every page, even with Django's staff flag."""

import pytest
from django.test import Client

from apps.hosts.services import ensure_compute_service
from apps.identity.models import User
from apps.identity.services import assign_roles
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "secret-password"  # the factory's


def user_with(role: str | None, **flags: bool) -> User:
    project = ProjectFactory()
    user = UserFactory(default_project_id=project.pk, **flags)
    if role:
        assign_roles(user=user, project=project, roles=[role])
    return user


def signs_in(user: User) -> bool:
    client = Client()
    client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    return client.get("/admin/").status_code == 200


def pages_open(user: User) -> list[int]:
    client = Client()
    client.force_login(user)  # past the form: the pages still refuse
    return [client.get(url).status_code for url in ("/admin/", "/admin/hosts/service/")]


@pytest.mark.parametrize(
    ("role", "flags"),
    [
        ("member", {"is_staff": True}),
        ("reader", {"is_staff": True}),
        ("member", {}),
        ("admin", {}),  # the admin role, without the staff flag Django's admin needs
        (None, {"is_superuser": True}),  # nor a superuser without it
        ("admin", {"is_staff": True, "is_active": False}),
    ],
)
def test_non_operators_are_refused(role: str | None, flags: dict[str, bool]) -> None:
    user = user_with(role, **flags)
    assert not signs_in(user)
    assert all(status == 302 for status in pages_open(user))  # to the sign-in page


def test_a_refused_member_is_told_nothing_more_than_a_wrong_password() -> None:
    user = user_with("member", is_staff=True)
    page = Client().post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert page.status_code == 200
    assert "Please enter the correct" in page.content.decode()


@pytest.mark.parametrize(
    ("role", "flags"),
    [("admin", {"is_staff": True}), (None, {"is_staff": True, "is_superuser": True})],
)
def test_operators_get_in(role: str | None, flags: dict[str, bool]) -> None:
    user = user_with(role, **flags)
    assert signs_in(user)


def test_a_member_cannot_run_an_admin_action() -> None:
    service = ensure_compute_service(host="hv-gate")
    client = Client()
    client.force_login(user_with("member", is_staff=True))
    response = client.post(
        "/admin/hosts/service/",
        {"action": "force_down", "_selected_action": [str(service.pk)]},
    )
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    service.refresh_from_db()
    assert not service.forced_down


def test_the_admins_forms_need_the_csrf_token_and_its_session_cookie_is_guarded() -> None:
    # given: an operator's browser that sends no CSRF token
    project = ProjectFactory()
    operator = user_with("admin", is_staff=True)
    service = ensure_compute_service(host="hv-csrf")
    client = Client(enforce_csrf_checks=True)

    # when: signing in without the token, then with a session, acting without it
    refused_login = client.post(
        "/admin/login/", {"username": operator.username, "password": PASSWORD}
    )
    client.force_login(operator)
    refused_action = client.post(
        "/admin/hosts/service/", {"action": "force_down", "_selected_action": [str(service.pk)]}
    )
    refused_quotas = client.post(f"/admin/quotas/projectquota/set/{project.pk}/", {})

    # then
    assert [refused_login.status_code, refused_action.status_code] == [403, 403]
    assert refused_quotas.status_code == 403
    service.refresh_from_db()
    assert not service.forced_down

    # and the session cookie a sign-in sets is out of scripts' and other sites' reach
    signed_in = Client().post(
        "/admin/login/", {"username": operator.username, "password": PASSWORD}
    )
    cookie = signed_in.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"

"""Signing in to the dashboard, the project switcher, and the gate every page passes."""

from collections.abc import Callable

import pytest

from apps.identity.services import assign_roles
from tests.conftest import Caller
from tests.dashboard.conftest import Browser
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_anonymous_pages_send_to_the_sign_in_page() -> None:
    browser = Browser(enforce_csrf_checks=True)
    for path in ["/", "/servers/", "/flavors/", "/hypervisors/"]:
        response = browser.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    page = browser.get("/login/")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page


def test_a_member_signs_in_with_the_identity_password_and_works_in_their_project(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    page = browser.get("/")
    assert page.status_code == 200
    assert member.project.name in page.content.decode()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert page["Cache-Control"] == "private, no-store"
    # no admin menu for a member
    assert "/hypervisors/" not in page.content.decode()


def test_a_wrong_password_is_the_forms_error_not_a_sign_in(make_caller) -> None:
    member = make_caller("member")
    browser = Browser(enforce_csrf_checks=True)
    token = browser.csrf_from("/login/")
    response = browser.post(
        "/login/",
        {"username": member.user.username, "password": "wrong", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 200
    assert "Please enter a correct" in response.content.decode()
    assert browser.get("/").status_code == 302


def test_the_switcher_offers_and_takes_only_projects_with_a_role(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    second = ProjectFactory(name="second-project")
    assign_roles(user=member.user, project=second, roles=["reader"])
    stranger = ProjectFactory(name="not-mine")
    browser = browser_for(member)
    page = browser.get("/").content.decode()
    assert "second-project (reader)" in page
    assert "not-mine" not in page

    browser.submit("/project/", {"project": second.pk, "next": "/"})
    assert "selected>second-project" in browser.get("/").content.decode()
    refused = browser.submit("/project/", {"project": stranger.pk, "next": "/"})
    assert refused.status_code == 302
    after = browser.get("/").content.decode()
    assert "You hold no role in that project." in after
    assert "selected>second-project" in after


def test_the_switcher_never_redirects_off_site(make_caller, browser_for) -> None:
    browser = browser_for(make_caller("member"))
    response = browser.submit("/project/", {"project": "x", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_sign_out_is_a_post_with_the_csrf_token(make_caller, browser_for) -> None:
    browser = browser_for(make_caller("member"))
    assert browser.get("/logout/").status_code == 405
    assert browser.post("/logout/").status_code == 403  # no token
    assert browser.submit("/logout/", {}).status_code == 302
    assert browser.get("/").status_code == 302


def test_session_and_csrf_cookies_are_httponly_and_samesite(make_caller) -> None:
    member = make_caller("member")
    browser = Browser(enforce_csrf_checks=True)
    browser.sign_in(member.user.username)
    for name in ["sessionid", "csrftoken"]:
        cookie = browser.cookies[name]
        assert cookie["httponly"], name
        assert cookie["samesite"] == "Lax", name


def test_a_user_without_a_default_project_works_in_the_first_project_with_a_role(
    make_caller: Callable[..., Caller],
) -> None:
    member = make_caller("member")
    member.user.default_project = None
    member.user.save(update_fields=["default_project"])
    browser = Browser(enforce_csrf_checks=True)
    browser.sign_in(member.user.username)
    page = browser.get("/").content.decode()
    assert "You hold no role in any project" not in page
    assert f"selected>{member.project.name}" in page

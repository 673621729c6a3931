"""Password guessing is throttled per (user, source address) wherever a password is typed.

Three entry points check passwords: the token endpoint (POST /identity/v3/auth/tokens), the
browsable API's sign-in page (/api-auth/login/) and the admin's (/admin/login/). An attacker
alternates the ways of naming the same user (id, name in a domain by name or by id, a name
the form folds to the same login) and the entry points; the lock must hold across all of them,
refuse even the right password, and never answer 500.
"""

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from apps.identity.models import Project, Token, User
from apps.identity.passwords import forget
from apps.identity.services import assign_roles
from tests.factories import ProjectFactory, UserFactory
from tests.identity.helpers import PASSWORD, issue

pytestmark = pytest.mark.django_db

ALLOWED = 3
ATTACKER = "10.66.0.1"
API_LOGIN = "/api-auth/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def three_failures_allowed(settings: SettingsWrapper) -> None:
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "AUTH_FAILURES_ALLOWED": ALLOWED,
        "AUTH_FAILURE_WINDOW": 300,
    }


@pytest.fixture(autouse=True)
def isolated_cache(settings: SettingsWrapper) -> None:
    """A fresh key prefix: failure counts live in the shared Redis and must not leak."""
    default = dict(settings.CACHES["default"])
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX', 'cc')}-pw-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {**settings.CACHES, "default": default}


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    forget()
    yield
    forget()


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def staff(project: Project) -> User:
    """A user who may use all three entry points: admin staff with a role on a project."""
    user = UserFactory(is_staff=True, is_superuser=True)
    assign_roles(user=user, project=project, roles=["member"])
    return user


# --- the three ways in, each with its spellings of the same user ------------------------------


def keystone_spellings(user: User) -> list[dict[str, Any]]:
    """Every way a token request can name `user`."""
    return [
        {"id": user.pk},
        {"name": user.username, "domain": {"name": "Default"}},
        {"name": user.username, "domain": {"id": "default"}},
        {"name": user.username},
    ]


def form_spellings(user: User) -> list[str]:
    """Login names the sign-in forms fold to `user`'s (Unicode NFKC: full-width letters)."""
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in user.username)
    assert full_width != user.username
    return [user.username, full_width]


def token_attempt(user_part: dict[str, Any], password: str, address: str = ATTACKER) -> Any:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {**user_part, "password": password}},
            }
        }
    }
    return issue(APIClient(REMOTE_ADDR=address), body)


def form_attempt(page: str, username: str, password: str, address: str = ATTACKER) -> Any:
    client = Client(REMOTE_ADDR=address)
    response = client.post(page, {"username": username, "password": password})
    response.signed_in = "_auth_user_id" in client.session
    return response


def attempts_for(entry: str, user: User) -> list[Callable[[str], Any]]:
    """One callable per spelling: attempt(password) through `entry`."""
    if entry == "token":
        return [lambda pw, ref=ref: token_attempt(ref, pw) for ref in keystone_spellings(user)]
    page = API_LOGIN if entry == "api" else ADMIN_LOGIN
    return [lambda pw, name=name: form_attempt(page, name, pw) for name in form_spellings(user)]


def accepted(entry: str, response: Any) -> bool:
    if entry == "token":
        return response.status_code == 201
    return response.status_code == 302 and response.signed_in


# --- the attacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["token", "api", "admin"])
def test_alternating_spellings_share_one_lock_and_the_right_password_is_refused(
    entry: str, staff: User
) -> None:
    # given: the attacker cycles through every spelling of the same user
    spellings = attempts_for(entry, staff)
    tokens_before = Token.objects.count()
    failures = [spellings[i % len(spellings)]("wrong").status_code for i in range(ALLOWED)]

    # when: the right password, in every spelling
    answers = [attempt(PASSWORD) for attempt in spellings]

    # then: the first failures are the entry point's usual refusal, then everything is 429
    usual = 401 if entry == "token" else 200
    assert failures == [usual] * ALLOWED
    assert [a.status_code for a in answers] == [429] * len(spellings)
    assert all(a["Retry-After"] == "300" for a in answers)
    assert not any(accepted(entry, a) for a in answers)
    assert Token.objects.count() == tokens_before


@pytest.mark.parametrize("entry", ["api", "admin"])
def test_sign_in_pages_say_why_while_locked_and_answer_invalid_before(
    entry: str, staff: User
) -> None:
    # given
    page = API_LOGIN if entry == "api" else ADMIN_LOGIN
    wrong = [form_attempt(page, staff.username, "wrong") for _ in range(ALLOWED)]

    # when
    locked = form_attempt(page, staff.username, PASSWORD)

    # then: a wrong password is the form's usual error; the lock is said as such, no session
    assert all(r.status_code == 200 and not r.signed_in for r in wrong)
    assert all("correct username and password" in r.text for r in wrong)
    assert locked.status_code == 429
    assert not locked.signed_in
    assert "Too many failed authentication attempts" in locked.text


def test_failures_on_each_entry_point_add_up_to_one_lock(staff: User) -> None:
    # given: one failure per entry point, each naming the user its own way
    token_attempt({"id": staff.pk}, "wrong")
    form_attempt(API_LOGIN, form_spellings(staff)[1], "wrong")
    form_attempt(ADMIN_LOGIN, staff.username, "wrong")

    # when
    answers = {
        "token": token_attempt({"name": staff.username, "domain": {"name": "Default"}}, PASSWORD),
        "api": form_attempt(API_LOGIN, staff.username, PASSWORD),
        "admin": form_attempt(ADMIN_LOGIN, form_spellings(staff)[1], PASSWORD),
    }

    # then
    assert {entry: a.status_code for entry, a in answers.items()} == {
        "token": 429,
        "api": 429,
        "admin": 429,
    }
    assert not answers["api"].signed_in
    assert not answers["admin"].signed_in


@pytest.mark.parametrize("entry", ["token", "api", "admin"])
def test_the_lock_is_per_source_address(entry: str, staff: User) -> None:
    # given: the attacker's address is locked out
    spellings = attempts_for(entry, staff)
    for i in range(ALLOWED):
        spellings[i % len(spellings)]("wrong")

    # when: the user signs in from their own address
    if entry == "token":
        response = token_attempt({"id": staff.pk}, PASSWORD, address="10.66.0.2")
    else:
        page = API_LOGIN if entry == "api" else ADMIN_LOGIN
        response = form_attempt(page, staff.username, PASSWORD, address="10.66.0.2")

    # then
    assert accepted(entry, response)


@pytest.mark.parametrize("entry", ["api", "admin"])
def test_sign_in_pages_still_let_the_right_password_in(entry: str, staff: User) -> None:
    # given
    page = API_LOGIN if entry == "api" else ADMIN_LOGIN
    form_attempt(page, staff.username, "wrong")

    # when
    response = form_attempt(page, form_spellings(staff)[1], PASSWORD)

    # then
    assert accepted(entry, response)

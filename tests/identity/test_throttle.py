"""Failed password attempts are throttled per (user, source address); successes never are."""

import time
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from apps.identity import throttle
from apps.identity.models import Project, User
from apps.identity.services import assign_roles
from tests.factories import ProjectFactory, UserFactory
from tests.identity.helpers import issue, password_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_failures_allowed(settings: SettingsWrapper) -> None:
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "AUTH_FAILURES_ALLOWED": 3,
        "AUTH_FAILURE_WINDOW": 300,
    }


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def user(project: Project) -> User:
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["member"])
    return user


def _attempt(user: User, project: Project, password: str, address: str = "10.0.0.1") -> Any:
    client = APIClient(REMOTE_ADDR=address)
    return issue(client, password_body(user=user, project=project, password=password))


def test_after_the_allowed_failures_even_the_right_password_is_429(
    user: User, project: Project
) -> None:
    # given
    failures = [_attempt(user, project, "wrong").status_code for _ in range(3)]

    # when
    response = _attempt(user, project, "secret-password")

    # then
    assert failures == [401, 401, 401]
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == 429
    assert error["title"] == "Too Many Requests"
    assert "Too many failed authentication attempts" in error["message"]
    assert response["Retry-After"] == "300"


def test_another_address_is_not_throttled(user: User, project: Project) -> None:
    # given
    for _ in range(3):
        _attempt(user, project, "wrong", address="10.0.0.1")

    # when
    response = _attempt(user, project, "secret-password", address="10.0.0.2")

    # then
    assert response.status_code == 201


def test_another_user_from_the_same_address_is_not_throttled(user: User, project: Project) -> None:
    # given
    other = UserFactory()
    assign_roles(user=other, project=project, roles=["member"])
    for _ in range(3):
        _attempt(user, project, "wrong")

    # when
    response = _attempt(other, project, "secret-password")

    # then
    assert response.status_code == 201


def test_unknown_user_names_are_throttled_too(project: Project) -> None:
    # given
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    body = password_body(username="ghost", project=project, password="guess")
    statuses = [issue(client, body).status_code for _ in range(4)]

    # then
    assert statuses == [401, 401, 401, 429]


def test_successes_are_never_throttled(user: User, project: Project) -> None:
    # when
    statuses = {_attempt(user, project, "secret-password").status_code for _ in range(10)}

    # then
    assert statuses == {201}


def test_a_success_before_the_lock_clears_the_count(user: User, project: Project) -> None:
    # given
    for _ in range(2):
        _attempt(user, project, "wrong")
    assert _attempt(user, project, "secret-password").status_code == 201

    # when
    statuses = [_attempt(user, project, "wrong").status_code for _ in range(2)]

    # then
    assert statuses == [401, 401]
    assert _attempt(user, project, "secret-password").status_code == 201


def test_the_lock_ends_with_the_window(
    settings: SettingsWrapper, user: User, project: Project
) -> None:
    # given: a two-second window, used up (counted directly: three hashes could outlast it)
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "AUTH_FAILURE_WINDOW": 2}
    for _ in range(3):
        throttle.record_failure(subject=throttle.user_subject(user.pk), source="10.0.0.1")
    assert _attempt(user, project, "secret-password").status_code == 429

    # when: polled until the window has passed (deadline well beyond it)
    deadline = time.monotonic() + 20
    response = _attempt(user, project, "secret-password")
    while response.status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.2)
        response = _attempt(user, project, "secret-password")

    # then
    assert response.status_code == 201

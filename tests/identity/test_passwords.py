"""The per-process memory of verified passwords never accepts what the hash would refuse."""

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.models import User
from apps.identity.passwords import verify_password
from apps.identity.services import set_user_password
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> User:
    user = UserFactory()
    assert verify_password(user, "secret-password")  # now remembered
    return user


def test_a_remembered_password_still_verifies(user: User) -> None:
    assert verify_password(user, "secret-password")


def test_a_wrong_password_is_refused_while_the_right_one_is_remembered(user: User) -> None:
    assert not verify_password(user, "secret-passwore")
    assert not verify_password(user, "")


def test_a_changed_password_forgets_the_old_one(user: User) -> None:
    # when
    set_user_password(user=user, password="new-password")

    # then
    fresh = User.objects.get(pk=user.pk)
    assert not verify_password(fresh, "secret-password")
    assert verify_password(fresh, "new-password")


def test_a_password_changed_behind_the_services_back_is_not_remembered(user: User) -> None:
    # given: another process changed it (this process's memory was not told)
    other_copy = User.objects.get(pk=user.pk)
    other_copy.set_password("changed-elsewhere")
    other_copy.save()

    # when
    fresh = User.objects.get(pk=user.pk)

    # then
    assert not verify_password(fresh, "secret-password")
    assert verify_password(fresh, "changed-elsewhere")


def test_memory_is_per_user(user: User) -> None:
    # given
    other = UserFactory(password="secret-password-2")

    # then
    assert not verify_password(other, "secret-password")


def test_disabled_memory_still_verifies(settings: SettingsWrapper) -> None:
    # given
    settings.COMPUTECLOUD = {**getattr(settings, "COMPUTECLOUD", {}), "AUTH_CACHE_TTL": 0}
    user = UserFactory()

    # then
    assert verify_password(user, "secret-password")
    assert verify_password(user, "secret-password")
    assert not verify_password(user, "nope")


def test_user_without_a_usable_password_never_verifies() -> None:
    # given
    user = UserFactory()
    user.set_unusable_password()
    user.save()

    # then
    assert not verify_password(user, "")
    assert not verify_password(user, "secret-password")

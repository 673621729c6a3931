"""Identity test fixtures: each test gets its own cache namespace (the throttle counts in the
shared Redis) and a process with no remembered passwords."""

import uuid
from collections.abc import Iterator

import pytest
from django.urls import Resolver404, resolve
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.passwords import forget


@pytest.fixture(autouse=True)
def isolated_cache(settings: SettingsWrapper) -> None:
    """A fresh key prefix, so failure counts never leak between tests or runs."""
    default = dict(settings.CACHES["default"])
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX', 'cc')}-test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {**settings.CACHES, "default": default}


@pytest.fixture(autouse=True)
def no_remembered_passwords() -> Iterator[None]:
    forget()
    yield
    forget()


@pytest.fixture(autouse=True)
def identity_root_route(settings: SettingsWrapper) -> None:
    """Serve ``/identity`` (no slash) even while the shared URLconf does not."""
    try:
        resolve("/identity")
    except Resolver404:
        settings.ROOT_URLCONF = "tests.identity.urls"

"""Quota test set-up: servers and server groups are inserted as rows here (their services
belong to the servers app; what the quota code reads is the rows)."""

import uuid
from collections.abc import Callable

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.models import Project
from apps.servers.models import Server, ServerGroup


@pytest.fixture
def make_server() -> Callable[..., Server]:
    def make(project: Project, *, vcpus: int = 1, memory_mb: int = 512, **fields: object) -> Server:
        return Server.objects.create(
            name=f"vm-{uuid.uuid4().hex[:6]}",
            project=project,
            user_id=str(fields.pop("user_id", "someone")),
            vcpus=vcpus,
            memory_mb=memory_mb,
            reservation_id=f"r-{uuid.uuid4().hex[:8]}",
            **fields,
        )

    return make


@pytest.fixture
def make_group() -> Callable[..., ServerGroup]:
    def make(project: Project, **fields: object) -> ServerGroup:
        return ServerGroup.objects.create(
            name=f"group-{uuid.uuid4().hex[:6]}",
            project=project,
            user_id=str(fields.pop("user_id", "someone")),
            policy=ServerGroup.Policy.ANTI_AFFINITY,
            **fields,
        )

    return make


@pytest.fixture
def quota_defaults(settings: SettingsWrapper) -> Callable[..., None]:
    """Set some of QUOTA_DEFAULTS for this test (the rest keep their defaults)."""

    def set_defaults(**limits: int) -> None:
        current = getattr(settings, "COMPUTECLOUD", {})
        settings.COMPUTECLOUD = {
            **current,
            "QUOTA_DEFAULTS": {**current.get("QUOTA_DEFAULTS", {}), **limits},
        }

    return set_defaults


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: SettingsWrapper) -> None:
    """Users here never log in by password; PBKDF2's deliberate 0.3 s per user is waste."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Fixtures shared by the whole suite: projects, users with roles, tokens, API clients."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.flavors.services import ensure_standard_flavors
from apps.identity.models import Project, User
from apps.identity.services import assign_roles, ensure_project
from apps.identity.tokens import issue_token
from apps.images.services import ensure_image_from_file
from tests.cloud import tiny_qcow2
from tests.factories import ProjectFactory, UserFactory


@pytest.fixture(scope="session", autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Image data and other control-plane files of the tests go to a temporary directory."""
    from django.conf import settings

    settings.STATE_DIR = tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_live_workers() -> Any:
    """Tests with real workers leave them running between tests (heartbeats keep writing), so
    the flush that ends a transactional test can deadlock with a worker's transaction and be
    the one PostgreSQL aborts. The flush is then tried again: the worker's transaction has
    gone through by then, and the next test must start from empty tables."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self: Any, *args: Any, **options: Any) -> Any:
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                if attempt == 4 or "deadlock detected" not in str(exc.__cause__):
                    raise
        return None

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup: None, django_db_blocker: Any) -> Any:
    """At the end, end other sessions on the test database (worker processes, the live
    server thread) so that pytest-django can drop it."""
    yield
    from django.db import connection

    from tests.cloud import disconnect_others

    # No test asked for the database: none was created, and the one the settings name is a
    # real system's, whose sessions are not ours to end.
    if not connection.settings_dict["NAME"].startswith("test_"):
        return
    with django_db_blocker.unblock():
        disconnect_others()


@dataclass
class Caller:
    """A user with a role on a project, a token and an API client that sends it."""

    user: User
    project: Project
    token: str
    client: APIClient


@pytest.fixture
def make_caller(db: None) -> Callable[..., Caller]:
    def make(role: str = "member", project: Project | None = None) -> Caller:
        project = project or ProjectFactory()
        user = UserFactory()
        assign_roles(user=user, project=project, roles=[role])
        token = issue_token(user=user, project=project, methods=["password"]).token
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=token)
        return Caller(user=user, project=project, token=token, client=client)

    return make


@pytest.fixture
def member(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller("member")


@pytest.fixture
def reader(make_caller: Callable[..., Caller], member: Caller) -> Caller:
    """A reader in the member's project."""
    return make_caller("reader", project=member.project)


@pytest.fixture
def admin(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller("admin")


@pytest.fixture
def image_id(tmp_path: Path) -> str:
    """The standard flavors and a tiny public image, for tests that create servers."""
    ensure_standard_flavors()
    image = ensure_image_from_file(
        name="tiny",
        path=tiny_qcow2(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    return str(image.id)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()

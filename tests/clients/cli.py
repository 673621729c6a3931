"""The real OpenStack clients against a live server: what a test needs to run them as a user.

`make_openstack_env(role=..., project=...)` (a fixture) makes a user with a password and a
role (``member`` by default) on a fresh project (or on `project`), as an `OpenStackEnv`: the
``OS_*`` variables an openrc would export, plus

- ``env.openstack("server", "list")``: runs ``.venv/bin/openstack ... -f json`` with exactly
  those variables (and ``PATH``; ``HOME`` is a private empty directory, so no clouds.yaml or
  client cache of the machine leaks in), returns the parsed JSON, raises `OpenStackCLIError`
  carrying stderr on failure;
- ``env.openstack_text(...)`` for commands without JSON output, ``env.openstack_result(...)``
  for the completed process whatever its exit status;
- ``env.connection()``: an openstacksdk `Connection` with the same credentials (no
  environment or clouds.yaml read).

The live server is pytest-django's (transactional database); ``PUBLIC_URL`` is pointed at it,
so the catalog names the live server. tests/clients/conftest.py offers these fixtures to the
tests beside it (and `openstack_env`); a test elsewhere imports the fixtures it names from
here, as tests/e2e/test_networks_vm.py does.
"""

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from django.urls import Resolver404, resolve
from openstack.connection import Connection
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.models import Project, User
from apps.identity.passwords import forget
from apps.identity.services import assign_roles, create_project, create_user

OPENSTACK = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "openstack"
CLI_TIMEOUT = 180  # seconds: one command starts Python, authenticates, discovers and runs


class OpenStackCLIError(AssertionError):
    """``openstack`` exited non-zero; the message carries the command, status and stderr."""

    def __init__(self, args: tuple[str, ...], result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        self.stderr = result.stderr
        super().__init__(
            f"openstack {' '.join(args)} exited {result.returncode}:\n{result.stderr.strip()}"
        )


class OpenStackEnv(dict[str, str]):
    """The ``OS_*`` variables of one user (a dict), with helpers that use exactly them."""

    def __init__(
        self, variables: dict[str, str], *, user: User, project: Project, home: Path
    ) -> None:
        super().__init__(variables)
        self.user = user
        self.project = project
        self.password = variables["OS_PASSWORD"]
        self.home = home
        self.connections: list[Connection] = []

    def process_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), **self}

    def openstack_result(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(OPENSTACK), *args],
            env=self.process_env(),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )

    def openstack_text(self, *args: str) -> str:
        result = self.openstack_result(*args)
        if result.returncode != 0:
            raise OpenStackCLIError(args, result)
        return result.stdout

    def openstack(self, *args: str) -> Any:
        """``openstack <args> -f json``, parsed."""
        return json.loads(self.openstack_text(*args, "-f", "json"))

    def connection(self, **options: Any) -> Connection:
        """A new openstacksdk connection; closed when the test ends (an open keep-alive socket
        would keep a live-server thread, and its database session, alive)."""
        conn = openstack.connect(
            load_yaml_config=False,
            load_envvars=False,
            auth_type="password",
            auth={
                "auth_url": self["OS_AUTH_URL"],
                "username": self["OS_USERNAME"],
                "password": self["OS_PASSWORD"],
                "project_name": self["OS_PROJECT_NAME"],
                "user_domain_name": self["OS_USER_DOMAIN_NAME"],
                "project_domain_name": self["OS_PROJECT_DOMAIN_NAME"],
            },
            identity_api_version=self["OS_IDENTITY_API_VERSION"],
            region_name=self["OS_REGION_NAME"],
            interface=self["OS_INTERFACE"],
            **options,
        )
        self.connections.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self.connections.clear()


@pytest.fixture
def service_roots(settings: SettingsWrapper) -> None:
    """Serve the bare ``/identity`` and ``/image`` roots that clients discover, even while the
    shared URLconf mounts them only with a trailing slash (then tests.clients.urls does)."""
    for root in ("/identity", "/image"):
        try:
            resolve(root)
        except Resolver404:
            settings.ROOT_URLCONF = "tests.clients.urls"


@pytest.fixture
def fresh_auth_state(request: pytest.FixtureRequest, settings: SettingsWrapper) -> Iterator[None]:
    """Failed-login counts in a cache namespace of this test's own; no remembered passwords.

    Not where the test runs a cloud (tests.cloud's workers): its conductor reads the cache
    under the prefix it was started with, and the API and the conductor share keys there (the
    network service's host-sync marks: set by the API, cleared by the conductor; under another
    prefix the API's marks would never clear and hosts would stop hearing of changes). Those
    tests' users are fresh, so no failure counted before can lock them out.
    """
    if "cloud_processes" not in request.fixturenames:
        default = dict(settings.CACHES["default"])
        prefix = f"{default.get('KEY_PREFIX', 'cc')}-clients-{uuid.uuid4().hex[:12]}"
        settings.CACHES = {**settings.CACHES, "default": {**default, "KEY_PREFIX": prefix}}
    forget()
    yield
    forget()


@pytest.fixture
def make_openstack_env(
    live_server: Any,
    settings: SettingsWrapper,
    transactional_db: None,
    service_roots: None,
    fresh_auth_state: None,
    tmp_path: Path,
) -> Iterator[Callable[..., OpenStackEnv]]:
    settings.PUBLIC_URL = live_server.url
    made: list[OpenStackEnv] = []

    def make(role: str = "member", project: Project | None = None) -> OpenStackEnv:
        suffix = uuid.uuid4().hex[:8]
        project = project or create_project(name=f"clients-{suffix}")
        password = f"pw-{uuid.uuid4().hex}"
        user = create_user(username=f"{role}-{suffix}", password=password, default_project=project)
        assign_roles(user=user, project=project, roles=[role])
        home = tmp_path / f"home-{suffix}"
        home.mkdir()
        variables = {
            "OS_AUTH_URL": f"{live_server.url}/identity",
            "OS_USERNAME": user.username,
            "OS_PASSWORD": password,
            "OS_PROJECT_NAME": project.name,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_REGION_NAME": "RegionOne",
            "OS_INTERFACE": "public",
        }
        env = OpenStackEnv(variables, user=user, project=project, home=home)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()

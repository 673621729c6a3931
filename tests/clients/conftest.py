"""Fixtures for tests that drive the real OpenStack clients against a live server
(tests/clients/cli.py has the runner and says what it gives).

`openstack_env` gives a fresh project and a user with a password and a role (``member`` by
default; ``@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)`` for another);
`make_openstack_env(role=..., project=...)` makes more users, in the same or other projects.
"""

from collections.abc import Callable

import pytest

from tests.clients.cli import (  # noqa: F401 - fixtures
    OpenStackEnv,
    fresh_auth_state,
    make_openstack_env,
    service_roots,
)


@pytest.fixture
def openstack_env(
    request: pytest.FixtureRequest,
    make_openstack_env: Callable[..., OpenStackEnv],  # noqa: F811
) -> OpenStackEnv:
    """A user with a role (``member`` unless parametrised indirectly) on a fresh project."""
    return make_openstack_env(role=getattr(request, "param", "member"))

"""Fixtures of the networking tests: projects' networks made through the services."""

from collections.abc import Callable
from typing import Any

import pytest

from apps.identity.models import Project
from apps.networks import networks as network_services
from apps.networks.models import Network, Subnet
from tests.factories import ProjectFactory


@pytest.fixture
def make_network(db: None) -> Callable[..., tuple[Network, Subnet | None]]:
    """A network with one subnet (``cidr=None``: none) of `project` (a new one by default)."""

    def make(
        project: Project | None = None,
        *,
        cidr: str | None = "10.0.0.0/24",
        name: str = "net",
        **network_fields: Any,
    ) -> tuple[Network, Subnet | None]:
        owner = project or ProjectFactory()
        network = network_services.create_network(project_id=owner.pk, name=name, **network_fields)
        subnet = None
        if cidr is not None:
            subnet = network_services.create_subnet(
                project_id=owner.pk, network=network, cidr=cidr, name=f"{name}-subnet"
            )
        return network, subnet

    return make


API = "/network/v2.0"


def ok(response: Any, expected: int = 200) -> Any:
    """The JSON body of a response that must have `expected` status."""
    assert response.status_code == expected, (response.status_code, response.content[:500])
    return response.json() if response.content else None


def create(client: Any, collection: str, member: str, expected: int = 201, **attrs: Any) -> Any:
    """POST ``{member: attrs}`` to the collection; the created resource."""
    response = client.post(f"{API}/{collection}", {member: attrs}, format="json")
    body = ok(response, expected)
    return body[member] if expected == 201 else body


def neutron_error(response: Any, status: int, kind: str | None = None) -> dict[str, Any]:
    """The NeutronError of an error response, checked for status, JSON and type."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    if kind is not None:
        assert error["type"] == kind, error
    return error

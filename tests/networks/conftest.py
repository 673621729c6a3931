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

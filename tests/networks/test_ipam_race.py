"""IPAM under concurrency, against real PostgreSQL: concurrent port creates on a /28 (13
addresses in its pool) never share an address, and every create that finds the pool full
is a clean 409."""

import ipaddress
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.identity.services import assign_roles
from apps.identity.tokens import issue_token
from apps.networks import networks as network_services
from apps.networks import ports as port_services
from apps.networks.exceptions import IpAddressGenerationFailure
from apps.networks.models import IPAllocation, Port
from tests.factories import ProjectFactory, UserFactory
from tests.networks.conftest import API

THREADS = 50
POOL = 13  # a /28: 16 addresses, minus network, broadcast and gateway


def _client_of_new_project() -> APIClient:
    project = ProjectFactory()
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["member"])
    client = APIClient()
    client.credentials(
        HTTP_X_AUTH_TOKEN=issue_token(user=user, project=project, methods=["password"]).token
    )
    return client


def _run(threads: int, work: Any) -> list[str]:
    start = threading.Barrier(threads)
    outcomes: list[str] = []

    def run(index: int) -> None:
        try:
            start.wait()
            outcomes.append(work(index))
        except Exception as exc:
            outcomes.append(f"error: {exc!r}")
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    return outcomes


def _assert_exact(network_id: Any) -> None:
    addresses = list(
        IPAllocation.objects.filter(port__network_id=network_id).values_list(
            "ip_address", flat=True
        )
    )
    assert len(addresses) == len(set(addresses)) == POOL
    assert sorted(addresses, key=ipaddress.ip_address) == [f"10.100.0.{i}" for i in range(2, 15)]
    assert Port.objects.filter(network_id=network_id).count() == POOL


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_port_creates_on_a_shared_28_through_the_api() -> None:
    # given: a shared /28 and 50 callers, each of its own project (so no quota lock orders
    # them: the allocations race for real)
    owner = ProjectFactory()
    network = network_services.create_network(project_id=owner.pk, name="shared", shared=True)
    network_services.create_subnet(project_id=owner.pk, network=network, cidr="10.100.0.0/28")
    clients = [_client_of_new_project() for _ in range(THREADS)]

    def create(index: int) -> str:
        response = clients[index].post(
            f"{API}/ports", {"port": {"network_id": str(network.pk)}}, format="json"
        )
        if response.status_code == 201:
            return "created"
        error = response.json()["NeutronError"]
        return f"{response.status_code} {error['type']}"

    # when
    outcomes = _run(THREADS, create)

    # then
    assert Counter(outcomes) == {
        "created": POOL,
        "409 IpAddressGenerationFailure": THREADS - POOL,
    }
    _assert_exact(network.pk)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_port_creates_of_one_project() -> None:
    # given: one project's /28 (its creates also queue on the project's quota lock)
    project = ProjectFactory()
    network = network_services.create_network(project_id=project.pk, name="own")
    network_services.create_subnet(project_id=project.pk, network=network, cidr="10.100.0.0/28")

    def create(index: int) -> str:
        try:
            port_services.create_port(project_id=project.pk, network=network, name=f"p{index}")
        except IpAddressGenerationFailure:
            return "full"
        return "created"

    # when
    outcomes = _run(THREADS, create)

    # then
    assert Counter(outcomes) == {"created": POOL, "full": THREADS - POOL}
    _assert_exact(network.pk)

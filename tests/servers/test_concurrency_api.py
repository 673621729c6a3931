"""Concurrency through the API, with real threads and the real claim path.

- 50 concurrent creates against a quota of 10 instances leave exactly 10 servers.
- 200 concurrent creates against a fleet that fits exactly 100 servers: exactly 100 go
  ACTIVE, 100 end in ERROR with Nova's "No valid host", and no host is over-committed.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.placement.models import Inventory
from apps.placement.services import over_committed_providers, set_inventory_overrides
from apps.quotas.services import update_quotas
from apps.servers.models import Server
from tests.cloud import Cloud
from tests.harness import wait_until

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _post(token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token)
    try:
        response = client.post("/compute/v2.1/servers", body, format="json")
        return response.status_code, response.json()
    finally:
        connection.close()  # each thread's own connection


def test_fifty_concurrent_creates_against_a_quota_of_ten_leave_exactly_ten(
    member: Any, cloud: Cloud
) -> None:
    # given
    update_quotas(project=member.project, limits={"instances": 10})
    body = {
        "server": {"name": "q", "imageRef": cloud.image_id, "flavorRef": "0", "networks": "none"}
    }
    barrier = threading.Barrier(50)

    def create(_: int) -> tuple[int, dict[str, Any]]:
        barrier.wait()
        return _post(member.token, body)

    # when
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(create, range(50)))

    # then
    codes = sorted(code for code, _ in results)
    assert codes.count(202) == 10
    assert codes.count(403) == 40
    refused = [b for c, b in results if c == 403]
    assert all(
        b["forbidden"]["message"].startswith("Quota exceeded for instances") for b in refused
    )
    assert Server.objects.filter(project=member.project).count() == 10


def _fit_exactly(host: str, servers: int, memory_mb: int) -> None:
    """Make `host` hold exactly `servers` instances of `memory_mb` (an operator's override)."""
    total = Inventory.objects.get(provider__name=host, resource_class="MEMORY_MB").total
    set_inventory_overrides(
        host=host,
        resource_class="MEMORY_MB",
        allocation_ratio=1.0,
        reserved=total - servers * memory_mb,
    )


def test_two_hundred_concurrent_creates_for_a_hundred_slots(admin: Any, cloud: Cloud) -> None:
    # given: two hosts that fit 50 servers of a 16 MiB flavor each (memory is the binding
    # resource), and room in the quota for everything
    from apps.flavors.services import create_flavor

    create_flavor(name="micro", flavorid="micro", memory_mb=16, vcpus=1, root_gb=1)
    for host in cloud.processes.hosts:
        _fit_exactly(host, 50, 16)
    update_quotas(
        project=admin.project,
        limits={"instances": 1000, "cores": 1000, "ram": 10**6},
    )
    body = {
        "server": {
            "name": "c",
            "imageRef": cloud.image_id,
            "flavorRef": "micro",
            "networks": "none",
        }
    }

    # when: 200 creates, 24 at a time (the database allows ~100 connections, shared)
    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(lambda _: _post(admin.token, body), range(200)))
    assert [code for code, _ in results].count(202) == 200

    def settled() -> bool:
        cloud.processes.check_alive()
        return not Server.objects.filter(project=admin.project, vm_state="building").exists()

    wait_until(settled, timeout=600, interval=1.0, what="all 200 servers to settle")

    # then
    servers = Server.objects.filter(project=admin.project)
    faults = Counter(
        f.message[:300] for s in servers.filter(vm_state="error") for f in s.faults.all()
    )
    assert servers.filter(vm_state="active").count() == 100, faults
    errored = servers.filter(vm_state="error")
    assert errored.count() == 100
    for server in errored:
        assert server.faults.first().message.startswith("No valid host was found.")
    assert over_committed_providers() == []

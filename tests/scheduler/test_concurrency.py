"""Concurrent passes against the real claim path: no over-commit, anti-affinity holds.

Each request runs in its own thread with its own database connection, inside
``transaction.atomic`` as the conductor does, and closes the connection when done. The
requests are issued by a pool of `WORKERS` threads: PostgreSQL here allows 100 connections
shared by every engineer's test run, so 200 simultaneous connections are not available.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from apps.placement import services as placement
from apps.placement.models import Allocation
from apps.scheduler import services
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.request_spec import RequestSpec
from tests.scheduler.helpers import create_group, create_host, create_server, make_spec

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

WORKERS = 24

OVER_COMMIT_SQL = """
    SELECT i.provider_id, i.resource_class
    FROM scheduler_inventory i
    LEFT JOIN scheduler_allocation a
      ON a.provider_id = i.provider_id AND a.resource_class = i.resource_class
    GROUP BY i.provider_id, i.resource_class, i.total, i.reserved, i.allocation_ratio
    HAVING COALESCE(sum(a.used), 0) > (i.total - i.reserved) * i.allocation_ratio
"""


def _run_concurrently(requests):
    """Run each callable in the pool; returns (successes, no_valid_host, other errors)."""
    errors: list[BaseException] = []
    outcomes: list[bool] = []
    lock = threading.Lock()

    def run(request):
        try:
            with transaction.atomic():
                request()
            ok = True
        except NoValidHost:
            ok = False
        except BaseException as exc:  # a failure of the test, reported below
            with lock:
                errors.append(exc)
            return
        finally:
            connections.close_all()
        with lock:
            outcomes.append(ok)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(run, requests))
    return outcomes.count(True), outcomes.count(False), errors


@pytest.mark.slow
def test_two_hundred_requests_for_a_hundred_slots_give_exactly_a_hundred_claims():
    # given: ten hosts, five bound by VCPU and five by RAM, 10 instances each
    for i in range(5):
        create_host(f"cpu{i}", vcpus=10, memory_mb=65536, disk_gb=1000)
        create_host(f"ram{i}", vcpus=64, memory_mb=10 * 512, disk_gb=1000)
    specs = [make_spec(vcpus=1, memory_mb=512, root_gb=1) for _ in range(200)]
    # when
    succeeded, refused, errors = _run_concurrently(
        [lambda spec=spec: services.select_destinations(spec) for spec in specs]
    )
    # then
    assert errors == []
    assert (succeeded, refused) == (100, 100)
    assert Allocation.objects.filter(resource_class="VCPU").count() == 100
    with connection.cursor() as cursor:
        cursor.execute(OVER_COMMIT_SQL)
        assert cursor.fetchall() == []
    assert placement.over_committed_providers() == []


def test_concurrent_members_of_an_anti_affinity_group_never_share_a_host():
    # given: six roomy hosts, twenty members asking at once
    for i in range(6):
        create_host(f"h{i}", vcpus=64, memory_mb=65536)
    group = create_group("anti-affinity")
    members = [create_server(host=None, group=group) for _ in range(20)]

    def request(member):
        spec = RequestSpec.from_request(
            flavor={"vcpus": 1, "memory_mb": 512},
            project_id="p",
            instance_uuids=[member.uuid],
            server_group=group.uuid,
        )
        services.select_destinations(spec)

    # when
    succeeded, refused, errors = _run_concurrently([lambda m=m: request(m) for m in members])
    # then
    assert errors == []
    assert (succeeded, refused) == (6, 14)
    hosts = list(
        Allocation.objects.filter(resource_class="VCPU").values_list("provider__name", flat=True)
    )
    assert sorted(hosts) == [f"h{i}" for i in range(6)]


def test_concurrent_batches_respect_max_server_per_host():
    # given
    for i in range(3):
        create_host(f"h{i}", vcpus=64, memory_mb=65536)
    group = create_group("anti-affinity", rules={"max_server_per_host": 2})
    members = [create_server(host=None, group=group) for _ in range(12)]
    batches = [members[i : i + 2] for i in range(0, 12, 2)]

    def request(batch):
        spec = RequestSpec.from_request(
            flavor={"vcpus": 1, "memory_mb": 512},
            project_id="p",
            instance_uuids=[m.uuid for m in batch],
            server_group=group,
        )
        services.select_destinations(spec)

    # when
    succeeded, refused, errors = _run_concurrently([lambda b=b: request(b) for b in batches])
    # then: 3 hosts x 2 = 6 members = 3 batches
    assert errors == []
    assert (succeeded, refused) == (3, 3)
    per_host = {}
    for host in Allocation.objects.filter(resource_class="VCPU").values_list(
        "provider__name", flat=True
    ):
        per_host[host] = per_host.get(host, 0) + 1
    assert per_host == {"h0": 2, "h1": 2, "h2": 2}

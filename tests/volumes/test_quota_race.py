"""The volume quota under concurrency, against real PostgreSQL: 20 creates at once, each its
own thread and database connection, against a quota of 10 volumes give exactly 10 volumes and
10 answers of 413 overLimit (the count and the insert are one transaction under the project
lock)."""

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.quotas import services as quotas
from apps.volumes.models import Volume
from tests.volumes.conftest import API

THREADS = 20


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


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_creates_against_a_quota_of_ten(member, pool):
    quotas.update_volume_quotas(project=member.project, limits={"volumes": 10})

    def create(index: int) -> str:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=member.token)
        response = client.post(
            f"{API}/volumes", {"volume": {"size": 1, "name": f"v{index}"}}, format="json"
        )
        if response.status_code == 413:
            assert "exceeded for quota 'volumes'" in response.json()["overLimit"]["message"]
        return str(response.status_code)

    outcomes = Counter(_run(THREADS, create))
    assert outcomes == {"202": 10, "413": 10}, outcomes
    assert Volume.objects.filter(project=member.project).count() == 10

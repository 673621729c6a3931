"""Concurrent creates against the quota: the Project row lock makes check-then-insert atomic."""

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection, transaction

from apps.identity.models import Project
from apps.quotas import services
from apps.servers.models import Server
from apps.servers.services import count_servers
from computecloud.exceptions import QuotaExceeded
from tests.factories import ProjectFactory

THREADS = 32  # simultaneous transactions (each its own connection), against a quota of 10


def _create_one(project_id: str, start: threading.Barrier, outcomes: list[str]) -> None:
    try:
        start.wait()
        with transaction.atomic():
            project = services.lock_project(project_id)
            # Counted under the lock, as the servers service counts before it inserts.
            used = count_servers(project_id)
            services.check_server_quota(project=project, used=used, instances=1, cores=1, ram=64)
            # Set-up shortcut: the row the servers service would insert, written directly.
            Server.objects.create(
                name="racer",
                project=project,
                user_id="racer",
                vcpus=1,
                memory_mb=64,
                reservation_id=f"r-{uuid.uuid4().hex[:8]}",
            )
        outcomes.append("created")
    except QuotaExceeded:
        outcomes.append("refused")
    except Exception as exc:  # reported by the assertion below, not lost in the thread
        outcomes.append(f"error: {exc!r}")
    finally:
        connection.close()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_exceed_the_quota() -> None:
    # given
    project: Project = ProjectFactory()
    services.update_quotas(project=project, limits={"instances": 10})
    start = threading.Barrier(THREADS)
    outcomes: list[str] = []

    # when
    threads = [
        threading.Thread(target=_create_one, args=(project.pk, start, outcomes))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then
    assert Counter(outcomes) == {"created": 10, "refused": THREADS - 10}
    assert Server.objects.filter(project=project).count() == 10

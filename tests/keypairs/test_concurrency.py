"""Concurrent key pair creates by one user: the User row lock keeps the quota exact."""

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from apps.identity.models import User
from apps.keypairs import services
from apps.keypairs.models import KeyPair
from apps.quotas import services as quotas
from computecloud.exceptions import QuotaExceeded
from tests.factories import ProjectFactory, UserFactory
from tests.keypairs.keys import SshKey

THREADS = 12


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_key_pair_creates_never_exceed_the_quota(
    ssh_key: Callable[..., SshKey],
) -> None:
    # given
    project = ProjectFactory()
    quotas.update_quotas(project=project, limits={"key_pairs": 3})
    user: User = UserFactory()
    public_key = ssh_key().public_key
    start = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def create(index: int) -> None:
        try:
            start.wait()
            services.import_key_pair(
                user_id=user.pk, project_id=project.pk, name=f"k{index}", public_key=public_key
            )
            outcomes.append("created")
        except QuotaExceeded:
            outcomes.append("refused")
        except Exception as exc:
            outcomes.append(f"error: {exc!r}")
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=create, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then
    assert Counter(outcomes) == {"created": 3, "refused": THREADS - 3}
    assert KeyPair.objects.filter(user=user).count() == 3


_ = SshKey  # the fixture's type, for readers

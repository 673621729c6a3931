"""Claims against real PostgreSQL: all or nothing, and a conflict lets go of its locks at once.

The scheduling pass's use of them (re-planning on a conflict, many passes at once) is tested
in tests/scheduler (test_select_destinations.py, test_concurrency.py).
"""

import threading
import uuid

import pytest
from django.db import connections, transaction

from apps.placement import claims
from apps.placement.models import Allocation, ResourceProvider
from tests.scheduler.helpers import create_host


@pytest.mark.django_db
def test_a_claim_that_no_longer_fits_writes_nothing():
    # given
    create_host("h1", vcpus=2)
    provider_id = ResourceProvider.objects.get(name="h1").pk
    request = claims.ClaimRequest(
        provider_id=provider_id, consumer_uuid=str(uuid.uuid4()), resources={"VCPU": 3}
    )
    # when
    with pytest.raises(claims.ClaimConflict) as raised, transaction.atomic():
        claims.claim([request], project_id="p", user_id="u")
    # then
    assert raised.value.provider_ids == {provider_id}
    assert raised.value.fresh[provider_id]["VCPU"].free == 2
    assert Allocation.objects.count() == 0


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_conflicting_claim_releases_its_row_locks_at_once():
    # given
    create_host("h1", vcpus=1)
    provider_id = ResourceProvider.objects.get(name="h1").pk
    locked_elsewhere: list[bool] = []

    def try_lock():
        try:
            with transaction.atomic():
                list(ResourceProvider.objects.select_for_update(nowait=True).filter(pk=provider_id))
            locked_elsewhere.append(True)
        finally:
            connections.close_all()

    # when: a claim fails inside a transaction that stays open
    with transaction.atomic():
        request = claims.ClaimRequest(
            provider_id=provider_id, consumer_uuid=str(uuid.uuid4()), resources={"VCPU": 2}
        )
        with pytest.raises(claims.ClaimConflict):
            claims.claim([request], project_id="p", user_id="u")
        other = threading.Thread(target=try_lock)
        other.start()
        other.join()
    # then: another transaction could lock the provider while ours was still open
    assert locked_elsewhere == [True]

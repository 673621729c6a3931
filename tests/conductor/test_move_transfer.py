"""A resize or cold migration that fails on a host gives its transfer object back: the image
service record the source uploaded the disk to (or was to) is deleted, as after a move that
succeeds. Left behind, it kept its project from being deleted (409 "still owns 1 image")."""

from collections.abc import Iterator

import pytest

from apps.conductor import moves
from apps.images.models import Image
from apps.servers.choices import TaskState, VmState
from apps.servers.models import Server
from tests.conductor.test_delete_wins import HOSTS, migrated, migrating, request_id
from tests.conftest import Caller
from tests.harness import purge_broker
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db(transaction=True)

FAULT = {"message": "HTTP Error 400: Bad Request", "details": "upload refused"}


@pytest.fixture(autouse=True)
def _hosts() -> Iterator[None]:
    for host in HOSTS:
        create_host(host, memory_mb=4096)
    yield
    purge_broker()  # what the steps sent to hosts that are not there


def transfers(server: Server) -> list[str]:
    return list(
        Image.objects.filter(properties__instance_uuid=str(server.uuid)).values_list(
            "name", flat=True
        )
    )


def test_a_resize_that_fails_on_the_source_deletes_its_transfer(
    member: Caller, image_id: str
) -> None:
    server, migration = migrating(member, image_id)
    transfer = Image.objects.get(name=f"transfer-{migration.uuid}")
    # when: the source could not upload the disk
    moves.resize_migrated(
        host=server.host,
        server_uuid=str(server.uuid),
        migration_uuid=str(migration.uuid),
        request_id=request_id(server, "resize"),
        ok=False,
        power_on=True,
        transfer_image_id=str(transfer.id),
        fault=FAULT,
    )
    # then
    server.refresh_from_db()
    assert (server.vm_state, server.task_state) == (VmState.ERROR, None)
    assert not Image.objects.filter(pk=transfer.pk).exists()
    assert transfers(server) == []


def test_a_resize_that_fails_on_the_destination_deletes_its_transfer(
    member: Caller, image_id: str
) -> None:
    server, migration = migrated(member, image_id)
    transfer = Image.objects.get(name=f"transfer-{migration.uuid}")
    assert server.task_state == TaskState.RESIZE_MIGRATED
    # when: the destination could not build the guest from it
    moves.resize_finished(
        host=migration.dest_host,
        server_uuid=str(server.uuid),
        migration_uuid=str(migration.uuid),
        request_id=request_id(server, "resize"),
        ok=False,
        fault=FAULT,
        transfer_image_id=str(transfer.id),
    )
    # then
    server.refresh_from_db()
    assert server.vm_state == VmState.ERROR
    assert not Image.objects.filter(pk=transfer.pk).exists()

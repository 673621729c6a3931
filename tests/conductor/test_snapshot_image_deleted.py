"""A snapshot whose image is deleted before the conductor starts it (Tempest deletes the
image right after createImage): the server goes back to idle and the action's event says
why, instead of the conductor's step failing and leaving the server in image_snapshot."""

from __future__ import annotations

import pytest

from apps.conductor import moves
from apps.images.models import Image
from apps.servers.choices import TaskState, VmState
from apps.servers.models import InstanceActionEvent, InstanceFault
from tests.conductor.test_delete_wins import _hosts, act, active, request_id  # noqa: F401
from tests.conftest import Caller

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_snapshot_of_a_deleted_image_ends_and_leaves_the_server_idle(
    member: Caller, image_id: str
) -> None:
    server = active(member, image_id)
    snapshot = act(member, server, {"createImage": {"name": "snap"}}).json()["image_id"]
    assert server.task_state == TaskState.IMAGE_SNAPSHOT
    deleted = member.client.delete(f"/image/v2/images/{snapshot}")
    assert deleted.status_code == 204, deleted.content
    assert not Image.objects.filter(id=snapshot).exists()

    moves.snapshot_server(
        server_uuid=str(server.uuid),
        image_id=snapshot,
        request_id=request_id(server, "createImage"),
    )

    server.refresh_from_db()
    assert (server.vm_state, server.task_state) == (VmState.ACTIVE, None)
    event = InstanceActionEvent.objects.get(
        action__server=server, action__action="createImage", event="compute_snapshot_instance"
    )
    assert event.result == "Error"
    assert event.finish_time is not None
    assert not InstanceFault.objects.filter(server=server).exists()
    # A second delivery of the message finds nothing to do.
    moves.snapshot_server(
        server_uuid=str(server.uuid),
        image_id=snapshot,
        request_id=request_id(server, "createImage"),
    )
    assert InstanceActionEvent.objects.filter(action__server=server, event=event.event).count() == 1

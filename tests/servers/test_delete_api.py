"""Delete through the API without workers: what is recorded and sent, state by state."""

import pytest
from django.utils import timezone

from apps.hosts.services import ensure_compute_service
from apps.servers.choices import TaskState
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


@pytest.fixture
def server_on_a_live_host(member, image_id: str) -> Server:
    """An active server on a host whose heartbeat is fresh (so deletes go to the host)."""
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = member.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    service = ensure_compute_service(host="live-host")
    service.last_seen_up = timezone.now()
    service.save()
    server = Server.objects.get(uuid=response.json()["server"]["id"])
    Server.objects.filter(pk=server.pk).update(
        host="live-host", vm_state="active", task_state=None, power_state=1
    )
    return server


def test_a_delete_under_way_can_be_asked_again(
    member, server_on_a_live_host, django_capture_on_commit_callbacks
):
    url = f"{SERVERS}/{server_on_a_live_host.uuid}"
    # when: deleted twice before the host has answered (what each hands over after its
    # commit is captured, not sent)
    with django_capture_on_commit_callbacks() as first_sent:
        first = member.client.delete(url, **V)
    with django_capture_on_commit_callbacks() as second_sent:
        second = member.client.delete(url, **V)
    # then: both accepted and recorded, each hands the delete to the conductor again
    assert (first.status_code, second.status_code) == (204, 204)
    assert (len(first_sent), len(second_sent)) == (1, 1)
    server = Server.objects.get(pk=server_on_a_live_host.pk)
    assert server.task_state == TaskState.DELETING
    assert [a.action for a in server.actions.all()] == ["delete", "delete", "create"]

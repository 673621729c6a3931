"""Console output is the one message the API waits for: the wait is bounded
(`to_compute.CONSOLE_OUTPUT_TIMEOUT`), and a host that does not answer is a 409, not a hung
request."""

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from apps.hosts.services import ensure_compute_service
from apps.servers.models import Server
from computecloud.messages import to_compute
from computecloud.queues import compute_queue

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A host whose heartbeat is fresh but whose worker never takes its queue."""
    host = f"silent-{uuid.uuid4().hex[:8]}"
    service = ensure_compute_service(host=host)
    service.last_seen_up = timezone.now()
    service.save()
    yield host
    # The unanswered message stays queued for a worker that never comes: drop it.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(compute_queue(host))


def test_console_output_from_a_host_that_does_not_answer_is_a_409_after_the_timeout(
    member, image_id: str, silent_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an active server on that host; the wait shortened so the test is quick
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    created = member.client.post(SERVERS, body, format="json", **V)
    assert created.status_code == 202, created.content
    server_id = created.json()["server"]["id"]
    Server.objects.filter(uuid=server_id).update(
        host=silent_host, vm_state="active", task_state=None, power_state=1
    )
    monkeypatch.setattr(to_compute, "CONSOLE_OUTPUT_TIMEOUT", 0.5)

    # when
    response = member.client.post(
        f"{SERVERS}/{server_id}/action", {"os-getConsoleOutput": {"length": 5}}, format="json", **V
    )

    # then: the request ended with Nova's conflict, and the server is as it was
    assert response.status_code == 409, response.content
    assert response.json() == {
        "conflictingRequest": {
            "code": 409,
            "message": f"Instance {server_id} console output is not available now.",
        }
    }
    server = Server.objects.get(uuid=server_id)
    assert (server.vm_state, server.task_state, server.host) == ("active", None, silent_host)

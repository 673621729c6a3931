"""os-instance-actions: who sees which parts of an action's events, by microversion (Nova's
rules: events for the owner from 2.51, tracebacks and hosts for the events policy only)."""

import pytest

from apps.servers.history import finish_event
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"
EVENT = "compute_build_and_run_instance"


def version(minor: int) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute 2.{minor}"}


@pytest.fixture
def failed_build(member, image_id: str) -> tuple[str, str]:
    """A server (left in BUILD: no workers) whose create has a failed build step on host-a."""
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = member.client.post(SERVERS, body, format="json", **version(96))
    assert response.status_code == 202, response.content
    server = Server.objects.get(uuid=response.json()["server"]["id"])
    request_id = server.actions.get().request_id
    finish_event(
        server=server,
        request_id=request_id,
        event=EVENT,
        ok=False,
        host="host-a",
        details="disk full",
        traceback="Traceback (most recent call last): ...",
    )
    return str(server.uuid), request_id


def show(caller, failed_build: tuple[str, str], minor: int) -> dict:
    server_id, request_id = failed_build
    url = f"{SERVERS}/{server_id}/os-instance-actions/{request_id}"
    response = caller.client.get(url, **version(minor))
    assert response.status_code == 200, response.content
    return response.json()["instanceAction"]


def test_before_2_51_the_owner_sees_no_events(member, failed_build):
    assert "events" not in show(member, failed_build, 50)


def test_from_2_51_the_owner_sees_events_without_traceback_or_host(member, failed_build):
    # when
    [event] = show(member, failed_build, 62)["events"]
    # then
    assert event["event"] == EVENT
    assert event["result"] == "Error"
    assert "traceback" not in event
    assert "host" not in event
    assert len(event["hostId"]) == 56


def test_an_admin_sees_the_traceback_always_and_the_host_from_2_62(admin, failed_build):
    # when
    [old] = show(admin, failed_build, 1)["events"]
    [new] = show(admin, failed_build, 62)["events"]
    # then
    assert old["traceback"].startswith("Traceback")
    assert "host" not in old
    assert new["host"] == "host-a"
    assert new["hostId"]

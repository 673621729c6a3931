"""DELETE /identity/v3/projects/{id} with what other services hold for the project: history
(deleted servers, their actions) and the network service's default security group go with
it, as Tempest's dynamic credentials need at the end of each test class; live resources keep
it (409, never a 500) and nothing is deleted then."""

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from apps.hosts.services import ensure_compute_service
from apps.identity.models import Project, RoleAssignment
from apps.networks.models import SecurityGroup, SecurityGroupRule
from apps.networks.networks import create_network
from apps.networks.ports import create_port
from apps.servers.models import InstanceAction, Server
from computecloud.queues import compute_queue
from tests.conftest import Caller
from tests.identity.test_admin_api import _error

pytestmark = pytest.mark.django_db

V3 = "/identity/v3"
SERVERS = "/compute/v2.1/servers"
GROUPS = "/network/v2.0/security-groups"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


@pytest.fixture
def down_host() -> Iterator[str]:
    """A compute host that has not reported for a day, and its queue, emptied afterwards."""
    host = f"gone-{uuid.uuid4().hex[:8]}"
    service = ensure_compute_service(host=host)
    service.last_seen_up = timezone.now() - timezone.timedelta(days=1)
    service.save()
    yield host
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(compute_queue(host))


def boot(caller: Caller, image_id: str, *, host: str | None = None) -> Server:
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = caller.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    server = Server.objects.get(uuid=response.json()["server"]["id"])
    if host:  # as if it had been built there
        Server.objects.filter(pk=server.pk).update(host=host, vm_state="active", task_state=None)
    return server


def delete_server(caller: Caller, server: Server) -> None:
    response = caller.client.delete(f"{SERVERS}/{server.uuid}", **V)
    assert response.status_code == 204, response.content
    # No host, or its host is down: deleted at once (a soft-deleted row), as Nova does.
    assert Server.with_deleted.get(pk=server.pk).deleted


def queued(host: str) -> list[tuple[str, dict[str, Any]]]:
    """The tasks waiting in `host`'s compute queue: (name, keyword arguments)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in broker.lrange(compute_queue(host), 0, -1)]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[1]) for m in messages]


def test_deleted_servers_and_the_default_group_go_with_the_project(
    admin: Caller, member: Caller, image_id: str, down_host: str, django_capture_on_commit_callbacks
) -> None:
    # given: the history of two deleted servers (one never placed, one deleted while its
    # host was down) and the default group the network service made at the first listing
    project = member.project
    never_placed = boot(member, image_id)
    on_down_host = boot(member, image_id, host=down_host)
    for server in (never_placed, on_down_host):
        delete_server(member, server)
    groups = member.client.get(GROUPS).json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.client.delete(f"{V3}/projects/{project.pk}")

    # then: 204, and nothing of the project is left
    assert response.status_code == 204, response.content
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not RoleAssignment.objects.filter(project_id=project.pk).exists()
    assert not Server.with_deleted.filter(project_id=project.pk).exists()
    assert not InstanceAction.objects.filter(server_id__in=[never_placed.pk, on_down_host.pk])
    assert not SecurityGroup.objects.filter(project_id=project.pk).exists()
    assert not SecurityGroupRule.objects.filter(project_id=project.pk).exists()
    # the host that was down when its server was deleted is told to remove the guest, which
    # its reports can no longer match to a row; the never-placed server needs nothing
    assert queued(down_host) == [
        ("compute.destroy_orphan", {"server_uuid": str(on_down_host.uuid)})
    ]
    # and the member's token for the project is refused
    assert member.client.get(SERVERS, **V).status_code == 401


def test_a_live_server_keeps_the_project_and_nothing_is_deleted(
    admin: Caller, member: Caller, image_id: str
) -> None:
    # given: a deleted server's history and a live server
    project = member.project
    delete_server(member, boot(member, image_id))
    live = boot(member, image_id)
    member.client.get(GROUPS)

    # when
    response = admin.client.delete(f"{V3}/projects/{project.pk}")

    # then: a 409 that names what is left; the history and the group are still there
    assert "1 server;" in _error(response, 409)["message"]
    assert Project.objects.filter(pk=project.pk).exists()
    assert Server.with_deleted.filter(project_id=project.pk, deleted=True).count() == 1
    assert Server.objects.filter(pk=live.pk).exists()
    assert SecurityGroup.objects.filter(project_id=project.pk, is_default=True).exists()
    # the member still works there
    assert member.client.get(f"{SERVERS}/{live.uuid}", **V).status_code == 200


def test_a_port_on_the_default_group_keeps_it_and_the_project(
    admin: Caller, member: Caller
) -> None:
    # given: a network with a port, which gets the project's default group
    project = member.project
    network = create_network(project_id=project.pk, name="net")
    port = create_port(project_id=project.pk, network=network, name="p")
    assert [g.is_default for g in port.security_groups.all()] == [True]

    # when
    response = admin.client.delete(f"{V3}/projects/{project.pk}")

    # then
    message = _error(response, 409)["message"]
    assert "1 network" in message
    assert "1 port" in message
    assert SecurityGroup.objects.filter(project_id=project.pk, is_default=True).exists()


def test_a_project_with_nothing_and_an_unknown_project(admin: Caller, member: Caller) -> None:
    project = member.project

    deleted = admin.client.delete(f"{V3}/projects/{project.pk}")
    again = admin.client.delete(f"{V3}/projects/{project.pk}")

    assert deleted.status_code == 204
    _error(again, 404)


def test_members_cannot_delete_their_project_or_its_history(
    member: Caller, reader: Caller, image_id: str
) -> None:
    delete_server(member, boot(member, image_id))

    for caller in (member, reader):
        _error(caller.client.delete(f"{V3}/projects/{member.project.pk}"), 403)

    assert Server.with_deleted.filter(project_id=member.project.pk).count() == 1

"""The operators' server and flavor pages: they load, nothing on them edits a record, and a
stuck server is reset through the service (recorded as resetState)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.flavors.models import Flavor
from apps.flavors.services import ensure_standard_flavors
from apps.identity.services import assign_roles
from apps.servers.choices import TaskState, VmState
from apps.servers.models import (
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
    Server,
    ServerGroup,
    ServerGroupMember,
    ServerMetadata,
)
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    # A refused page is the 403 an operator's browser gets, not an exception in the test.
    client = Client(raise_request_exception=False)
    project = ProjectFactory()
    user = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["admin"])
    client.force_login(user)
    return client


@pytest.fixture
def stuck() -> Server:
    server = Server.objects.create(
        name="stuck",
        project=ProjectFactory(),
        user_id="someone",
        flavor_id="1",
        vm_state=VmState.ACTIVE,
        task_state=TaskState.REBOOTING,
        host="admin-host",
        reservation_id="r-admin",
    )
    InstanceFault.objects.create(server=server, message="SpawnFailed", host="admin-host")
    return server


def test_server_and_flavor_pages_load(operator: Client, stuck: Server) -> None:
    ensure_standard_flavors()
    flavor = Flavor.objects.first()
    for url in (
        "/admin/servers/server/",
        f"/admin/servers/server/{stuck.pk}/change/",
        "/admin/flavors/flavor/",
        f"/admin/flavors/flavor/{flavor.pk}/change/",
    ):
        response = operator.get(url)
        assert response.status_code == 200, url
    page = operator.get(f"/admin/servers/server/{stuck.pk}/change/").content.decode()
    assert "SpawnFailed" in page  # the fault inline
    assert 'name="vm_state"' not in page  # no state field to edit


def test_nothing_is_added_edited_or_deleted_through_the_pages(
    operator: Client, stuck: Server
) -> None:
    # when
    add = operator.get("/admin/servers/server/add/")
    delete = operator.post(f"/admin/servers/server/{stuck.pk}/delete/", {"post": "yes"})
    edit = operator.post(
        f"/admin/servers/server/{stuck.pk}/change/", {"vm_state": "error", "host": "elsewhere"}
    )
    flavor_add = operator.get("/admin/flavors/flavor/add/")
    # then
    assert (add.status_code, delete.status_code, flavor_add.status_code) == (403, 403, 403)
    assert edit.status_code < 500  # the page comes back (its inlines), the record unchanged
    stuck.refresh_from_db()
    assert (stuck.vm_state, stuck.task_state, stuck.host) == (
        VmState.ACTIVE,
        TaskState.REBOOTING,
        "admin-host",
    )


def test_reset_state_goes_through_the_service_and_is_recorded(
    operator: Client, stuck: Server
) -> None:
    # when
    response = operator.post(
        "/admin/servers/server/",
        {"action": "reset_to_error", "_selected_action": [str(stuck.pk)]},
    )
    # then
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert (stuck.vm_state, stuck.task_state) == (VmState.ERROR, None)
    assert InstanceAction.objects.filter(server=stuck, action="resetState").count() == 1


def test_list_shows_host_flavor_state_and_age_and_searches_and_filters(
    operator: Client, stuck: Server
) -> None:
    # given
    Server.objects.filter(pk=stuck.pk).update(flavor={"name": "m1.tiny"})
    other = Server.objects.create(
        name="calm", project=stuck.project, user_id="u", flavor_id="2", host="other-host",
        vm_state=VmState.STOPPED, reservation_id="r-2",
    )  # fmt: skip
    # when
    page = operator.get("/admin/servers/server/").content.decode()
    # then
    assert "m1.tiny" in page  # the flavor as built
    assert "admin-host" in page
    assert "0\xa0minutes" in page  # its age
    found = operator.get("/admin/servers/server/", {"q": "other-host"}).content.decode()
    assert str(other.uuid) in found
    assert str(stuck.uuid) not in found
    stopped = operator.get("/admin/servers/server/", {"vm_state__exact": "stopped"})
    assert str(other.uuid) in stopped.content.decode()
    assert str(stuck.uuid) not in stopped.content.decode()


def test_delete_goes_through_the_service_and_is_recorded(operator: Client, stuck: Server) -> None:
    # given: its host is not up (no service), so the delete completes at once, as Nova's
    locked = Server.objects.create(
        name="locked", project=stuck.project, user_id="u", flavor_id="1", locked=True,
        locked_by="owner", reservation_id="r-3",
    )  # fmt: skip
    # when
    response = operator.post(
        "/admin/servers/server/",
        {"action": "delete_servers", "_selected_action": [str(stuck.pk), str(locked.pk)]},
    )
    # then: both gone (an admin may delete a locked server, as through the API)
    assert response.status_code == 302
    assert not Server.objects.filter(pk__in=[stuck.pk, locked.pk]).exists()
    stuck = Server.with_deleted.get(pk=stuck.pk)
    assert (stuck.deleted, stuck.vm_state) == (True, VmState.DELETED)
    assert InstanceAction.objects.filter(server=stuck, action="delete").count() == 1


def test_an_action_the_service_refuses_shows_why_and_changes_nothing(stuck: Server) -> None:
    # given: a superuser with no project, so no role, to act with
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    # when
    response = client.post(
        "/admin/servers/server/",
        {"action": "delete_servers", "_selected_action": [str(stuck.pk)]},
        follow=True,
    )
    # then: the refusal is shown (no admin role in any project it acts in)
    assert 'class="error"' in response.content.decode()
    stuck.refresh_from_db()
    assert (stuck.deleted, stuck.task_state) == (False, TaskState.REBOOTING)
    assert not InstanceAction.objects.filter(server=stuck).exists()


def test_related_pages_load(operator: Client, stuck: Server) -> None:
    # given
    group = ServerGroup.objects.create(
        name="g", project=stuck.project, user_id="u", policy="anti-affinity"
    )
    ServerGroupMember.objects.create(group=group, server=stuck)
    migration = Migration.objects.create(
        server=stuck, migration_type="resize", source_host="admin-host", dest_host="b"
    )
    action = InstanceAction.objects.create(server=stuck, action="reboot", request_id="req-1")
    InstanceActionEvent.objects.create(action=action, event="compute_reboot", result="Error")
    ServerMetadata.objects.create(server=stuck, key="role", value="db")
    # then
    for url in (
        "/admin/servers/servergroup/",
        f"/admin/servers/servergroup/{group.pk}/change/",
        "/admin/servers/migration/",
        f"/admin/servers/migration/{migration.pk}/change/",
        "/admin/servers/instanceaction/?q=req-1",
        f"/admin/servers/instanceaction/{action.pk}/change/",
    ):
        assert operator.get(url).status_code == 200, url
    server_page = operator.get(f"/admin/servers/server/{stuck.pk}/change/").content.decode()
    assert "role" in server_page
    assert "resize" in server_page
    event_page = operator.get(f"/admin/servers/instanceaction/{action.pk}/change/")
    assert "compute_reboot" in event_page.content.decode()


def test_a_page_of_a_thousand_servers_costs_a_bounded_number_of_queries(
    operator: Client, stuck: Server
) -> None:
    # given
    projects = [ProjectFactory() for _ in range(5)]
    Server.objects.bulk_create(
        Server(
            name=f"vm-{i}", project=projects[i % 5], user_id="u", flavor_id="1",
            flavor={"name": "m1.small"}, host=f"hv-{i % 7}", reservation_id="r",
        )
        for i in range(999)
    )  # fmt: skip
    # when
    with CaptureQueriesContext(connection) as few:
        operator.get("/admin/servers/server/", {"q": "stuck"})
    with CaptureQueriesContext(connection) as many:
        response = operator.get("/admin/servers/server/", {"all": ""})
    # then
    assert response.content.decode().count("m1.small") == 999
    assert len(many) <= len(few) + 2
    assert len(many) <= 20

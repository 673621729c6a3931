"""The operators' server and flavor pages: they load, nothing on them edits a record, and a
stuck server is reset through the service (recorded as resetState)."""

import pytest
from django.test import Client

from apps.flavors.models import Flavor
from apps.flavors.services import ensure_standard_flavors
from apps.identity.services import assign_roles
from apps.servers.choices import TaskState, VmState
from apps.servers.models import InstanceAction, InstanceFault, Server
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

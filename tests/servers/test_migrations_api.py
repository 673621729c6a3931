"""os-migrations and /servers/{id}/migrations: shapes by microversion, filters, paging; and a
cold migration through real workers as os-migrations reports it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.flavors.models import Flavor
from apps.hosts.models import ComputeNode, Service
from apps.identity.models import Project
from apps.servers.choices import VmState
from apps.servers.models import Migration, Server

URL = "/compute/v2.1/os-migrations"


def mv(version: str) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {version}"}


V = mv("2.96")
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def snapshot(flavor: Flavor) -> dict[str, Any]:
    return {"id": flavor.flavorid, "name": flavor.name, "vcpus": flavor.vcpus}


def make_server(project: Project, *, host: str = "src-host", deleted: bool = False) -> Server:
    return Server.objects.create(
        name="vm",
        project=project,
        user_id="owner-user",
        flavor_id="1",
        vm_state=VmState.DELETED if deleted else VmState.ACTIVE,
        host=host,
        node=f"{host}.node",
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        deleted=deleted,
    )


def make_migration(
    server: Server,
    *,
    migration_type: str = Migration.Type.RESIZE,
    status: str = Migration.Status.FINISHED,
    source: str = "src-host",
    dest: str | None = "dst-host",
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    updated_at: datetime | None = None,
) -> Migration:
    migration = Migration.objects.create(
        server=server,
        user_id=server.user_id,  # the owner started it
        project_id=server.project_id,
        migration_type=migration_type,
        status=status,
        source_host=source,
        source_node=f"{source}.node",
        dest_host=dest,
        dest_node=f"{dest}.node" if dest else None,
        old_flavor=old or {},
        new_flavor=new or {},
    )
    if updated_at is not None:
        Migration.objects.filter(pk=migration.pk).update(updated_at=updated_at)
        migration.refresh_from_db()
    return migration


def listed(client: Any, query: str = "", version: str = "2.96") -> list[dict[str, Any]]:
    response = client.get(f"{URL}?{query}", **mv(version))
    assert response.status_code == 200, response.content
    return response.json()["migrations"]


# --- shapes ---------------------------------------------------------------------------------
BASE_KEYS = {
    "id",
    "instance_uuid",
    "source_compute",
    "source_node",
    "dest_compute",
    "dest_host",
    "dest_node",
    "old_instance_type_id",
    "new_instance_type_id",
    "status",
    "created_at",
    "updated_at",
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("version", "extra"),
    [
        ("2.1", set()),
        ("2.22", set()),
        ("2.23", {"migration_type"}),
        ("2.58", {"migration_type"}),
        ("2.59", {"migration_type", "uuid"}),
        ("2.80", {"migration_type", "uuid", "user_id", "project_id"}),
    ],
)
def test_fields_by_microversion(admin, member, version: str, extra: set[str]):
    # given
    make_migration(make_server(member.project))
    # when
    (migration,) = listed(admin.client, version=version)
    # then
    assert set(migration) == BASE_KEYS | extra


@pytest.mark.django_db
def test_a_migration_reads_as_novas(admin, member):
    # given: flavors, the destination's compute node with its IP
    small = Flavor.objects.create(flavorid="s", name="small", memory_mb=512, vcpus=1)
    large = Flavor.objects.create(flavorid="l", name="large", memory_mb=1024, vcpus=2)
    service = Service.objects.create(host="dst-host")
    ComputeNode.objects.create(
        service=service, host="dst-host", hypervisor_hostname="dst-host.node", host_ip="192.0.2.7"
    )
    server = make_server(member.project)
    migration = make_migration(server, old=snapshot(small), new=snapshot(large))
    # when
    (body,) = listed(admin.client)
    # then
    assert body == {
        "id": migration.pk,
        "uuid": str(migration.uuid),
        "instance_uuid": str(server.uuid),
        "source_compute": "src-host",
        "source_node": "src-host.node",
        "dest_compute": "dst-host",
        "dest_host": "192.0.2.7",
        "dest_node": "dst-host.node",
        "old_instance_type_id": small.pk,
        "new_instance_type_id": large.pk,
        "status": "finished",
        "migration_type": "resize",
        "created_at": migration.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "updated_at": migration.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "user_id": "owner-user",
        "project_id": member.project.pk,
    }


@pytest.mark.django_db
def test_a_deleted_flavor_and_an_unplaced_destination_read_as_null(admin, member):
    # given: a migration still pre-migrating (no destination yet) from a flavor now gone
    make_migration(
        make_server(member.project),
        status=Migration.Status.PRE_MIGRATING,
        dest=None,
        old={"id": "gone", "name": "gone"},
        new={"id": "gone", "name": "gone"},
    )
    # when
    (body,) = listed(admin.client)
    # then
    assert body["old_instance_type_id"] is None
    assert body["new_instance_type_id"] is None
    assert body["dest_compute"] is None
    assert body["dest_host"] is None
    assert body["dest_node"] is None


@pytest.mark.django_db
def test_the_resize_service_records_what_os_migrations_lists(admin, member):
    # given: an active server on a host and a larger flavor
    Flavor.objects.create(flavorid="1", name="one", memory_mb=256, vcpus=1)
    bigger = Flavor.objects.create(flavorid="2", name="two", memory_mb=512, vcpus=1, root_gb=1)
    server = make_server(member.project)
    Server.objects.filter(pk=server.pk).update(flavor={"id": "1", "name": "one"})
    action = {"resize": {"flavorRef": "2"}}
    # when
    response = member.client.post(
        f"/compute/v2.1/servers/{server.uuid}/action", action, format="json", **V
    )
    # then
    assert response.status_code == 202, response.content
    (body,) = listed(admin.client)
    assert body["instance_uuid"] == str(server.uuid)
    assert body["migration_type"] == "resize"
    assert body["status"] == "pre-migrating"
    assert body["source_compute"] == "src-host"
    assert body["new_instance_type_id"] == bigger.pk
    assert body["user_id"] == member.user.pk  # who asked for the resize
    assert body["project_id"] == member.project.pk


@pytest.mark.django_db
def test_migrations_of_deleted_servers_are_not_listed(admin, member):
    # given
    make_migration(make_server(member.project, deleted=True))
    kept = make_migration(make_server(member.project))
    # then
    assert [m["id"] for m in listed(admin.client)] == [kept.pk]


@pytest.mark.django_db
def test_os_migrations_is_for_admins(member, reader):
    assert member.client.get(URL, **V).status_code == 403
    assert reader.client.get(URL, **V).status_code == 403


# --- filters --------------------------------------------------------------------------------
@pytest.fixture
def three(member) -> dict[str, Migration]:
    """A resize on a→b (finished), a cold migration on c→a (error), a resize on c→d."""
    first, second = make_server(member.project), make_server(member.project)
    return {
        "resize": make_migration(first, source="a", dest="b"),
        "cold": make_migration(
            second,
            migration_type=Migration.Type.MIGRATION,
            status=Migration.Status.ERROR,
            source="c",
            dest="a",
        ),
        "other": make_migration(second, source="c", dest="d", status="confirmed"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=error", {"cold"}),
        ("migration_type=resize", {"resize", "other"}),
        ("source_compute=c", {"cold", "other"}),
        ("host=a", {"resize", "cold"}),
        ("host=a&source_compute=c", {"resize", "cold"}),
        ("hidden=1", set()),
        ("hidden=0", {"resize", "cold", "other"}),
        ("instance_uuid=not-a-uuid", set()),
        ("status=finished&migration_type=resize", {"resize"}),
    ],
)
def test_filters(admin, three, query: str, expected: set[str]):
    ids = {m["id"] for m in listed(admin.client, query)}
    assert ids == {three[name].pk for name in expected}


@pytest.mark.django_db
def test_instance_uuid_filter(admin, three):
    server_uuid = three["cold"].server.uuid
    ids = {m["id"] for m in listed(admin.client, f"instance_uuid={server_uuid}")}
    assert ids == {three["cold"].pk, three["other"].pk}


@pytest.mark.django_db
def test_changes_since_filters_from_2_59_and_is_ignored_before(admin, member):
    # given
    server = make_server(member.project)
    old = make_migration(server, updated_at=T0)
    new = make_migration(server, updated_at=T0 + timedelta(days=2))
    query = "changes-since=2025-03-02T00:00:00Z"
    # when
    ignored = listed(admin.client, query, version="2.58")
    filtered = listed(admin.client, query, version="2.59")
    # then
    assert {m["id"] for m in ignored} == {old.pk, new.pk}
    assert [m["id"] for m in filtered] == [new.pk]


@pytest.mark.django_db
def test_changes_before_from_2_66_and_it_must_not_precede_changes_since(admin, member):
    # given
    server = make_server(member.project)
    old = make_migration(server, updated_at=T0)
    make_migration(server, updated_at=T0 + timedelta(days=2))
    # when
    before = listed(admin.client, "changes-before=2025-03-02T00:00:00", version="2.66")
    refused_early = admin.client.get(f"{URL}?changes-before=2025-03-02T00:00:00", **mv("2.65"))
    crossed = admin.client.get(
        f"{URL}?changes-since=2025-03-03T00:00:00&changes-before=2025-03-02T00:00:00", **V
    )
    # then
    assert [m["id"] for m in before] == [old.pk]
    assert refused_early.status_code == 400  # an unknown parameter between 2.59 and 2.65
    assert crossed.status_code == 400
    assert crossed.json()["badRequest"]["message"] == (
        "The value of changes-since must be less than or equal to changes-before."
    )


@pytest.mark.django_db
def test_a_malformed_changes_since_is_refused(admin):
    response = admin.client.get(f"{URL}?changes-since=yesterday", **V)
    assert response.status_code == 400


@pytest.mark.django_db
def test_user_and_project_filters_from_2_80(admin, member, make_caller):
    # given
    other = make_caller("member")
    mine = make_migration(make_server(member.project))
    make_migration(make_server(other.project))
    # when
    by_project = listed(admin.client, f"project_id={member.project.pk}", version="2.80")
    by_user = listed(admin.client, "user_id=owner-user", version="2.80")
    refused = admin.client.get(f"{URL}?project_id={member.project.pk}", **mv("2.79"))
    # then
    assert [m["id"] for m in by_project] == [mine.pk]
    assert len(by_user) == 2
    assert refused.status_code == 400


@pytest.mark.django_db
def test_unknown_parameters_are_refused_from_2_59_and_ignored_before(admin):
    assert admin.client.get(f"{URL}?colour=red", **mv("2.58")).status_code == 200
    response = admin.client.get(f"{URL}?colour=red", **mv("2.59"))
    assert response.status_code == 400
    assert "colour" in response.json()["badRequest"]["message"]


# --- paging ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_from_2_59_the_list_pages_newest_first_with_a_next_link(admin, member):
    # given
    server = make_server(member.project)
    made = [make_migration(server) for _ in range(5)]
    newest_first = [str(m.uuid) for m in reversed(made)]
    # when
    first = admin.client.get(f"{URL}?limit=2", **V).json()
    href = first["migrations_links"][0]["href"]
    marker = href.split("marker=")[1].split("&")[0]
    second = admin.client.get(f"{URL}?limit=2&marker={marker}", **V).json()
    last = admin.client.get(f"{URL}?limit=2&marker={newest_first[3]}", **V).json()
    # then
    assert [m["uuid"] for m in first["migrations"]] == newest_first[:2]
    assert href.startswith("http")
    assert "/compute/v2.1/os-migrations?" in href
    assert [m["uuid"] for m in second["migrations"]] == newest_first[2:4]
    assert [m["uuid"] for m in last["migrations"]] == newest_first[4:]
    assert "migrations_links" not in last


@pytest.mark.django_db
def test_before_2_59_there_is_no_paging(admin, member):
    # given
    server = make_server(member.project)
    for _ in range(3):
        make_migration(server)
    # when
    body = admin.client.get(f"{URL}?limit=1", **mv("2.58")).json()
    # then
    assert len(body["migrations"]) == 3
    assert "migrations_links" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("marker", [str(uuid.uuid4()), "junk"])
def test_an_unknown_marker_is_refused(admin, marker: str):
    response = admin.client.get(f"{URL}?marker={marker}", **V)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == f"Marker {marker} could not be found."


@pytest.mark.django_db
def test_list_costs_the_same_queries_whatever_the_number_of_migrations(
    admin, member, django_assert_num_queries
):
    # given
    flavor = Flavor.objects.create(flavorid="s", name="small", memory_mb=512, vcpus=1)
    for index in range(20):
        make_migration(
            make_server(member.project),
            dest=f"dst-{index}",
            old=snapshot(flavor),
            new=snapshot(flavor),
        )
    # when: token with roles, migrations with servers, flavors, compute nodes
    with django_assert_num_queries(4):
        response = admin.client.get(URL, **V)
    # then
    assert len(response.json()["migrations"]) == 20


# --- /servers/{id}/migrations ---------------------------------------------------------------
@pytest.mark.django_db
def test_a_servers_in_progress_live_migrations_are_none_from_2_23(admin, member):
    # given: a server with a finished resize (not a live migration)
    server = make_server(member.project)
    make_migration(server)
    url = f"/compute/v2.1/servers/{server.uuid}/migrations"
    # when
    listed_ = admin.client.get(url, **mv("2.23"))
    too_early = admin.client.get(url, **mv("2.22"))
    # then
    assert listed_.status_code == 200
    assert listed_.json() == {"migrations": []}
    assert too_early.status_code == 404


@pytest.mark.django_db
def test_showing_a_resize_as_a_server_migration_is_not_found(admin, member):
    # given
    server = make_server(member.project)
    migration = make_migration(server)
    url = f"/compute/v2.1/servers/{server.uuid}/migrations"
    # when
    resize = admin.client.get(f"{url}/{migration.pk}", **V)
    missing = admin.client.get(f"{url}/999999", **V)
    # then
    assert resize.status_code == 404
    assert resize.json()["itemNotFound"]["message"] == (
        f"Migration {migration.pk} for server {server.uuid} is not live-migration."
    )
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == (
        f"In-progress live migration 999999 is not found for server {server.uuid}."
    )


@pytest.mark.django_db
def test_server_migrations_are_for_admins_and_need_an_existing_server(admin, member):
    # given
    server = make_server(member.project)
    # then
    url = f"/compute/v2.1/servers/{server.uuid}/migrations"
    assert member.client.get(url, **V).status_code == 403
    assert (
        admin.client.get(f"/compute/v2.1/servers/{uuid.uuid4()}/migrations", **V).status_code == 404
    )


# --- through real workers -------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_cold_migration_through_the_hosts_as_os_migrations_reports_it(cloud, member, admin):
    # given: an active server
    body = {
        "server": {
            "name": "mover",
            "imageRef": cloud.image_id,
            "flavorRef": "0",
            "networks": "none",
        }
    }
    server_id = member.client.post("/compute/v2.1/servers", body, format="json", **V).json()[
        "server"
    ]["id"]
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    source = admin.client.get(f"/compute/v2.1/servers/{server_id}", **V).json()["server"][
        "OS-EXT-SRV-ATTR:host"
    ]
    action_url = f"/compute/v2.1/servers/{server_id}/action"
    # when: migrated to the other host, then confirmed
    assert admin.client.post(action_url, {"migrate": None}, format="json", **V).status_code == 202
    cloud.wait_for_server(member.client, server_id, {"VERIFY_RESIZE"})
    (finished,) = listed(admin.client, f"instance_uuid={server_id}")
    confirm = member.client.post(action_url, {"confirmResize": None}, format="json", **V)
    assert confirm.status_code == 204
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    (confirmed,) = listed(admin.client, f"instance_uuid={server_id}")
    # then
    assert finished["migration_type"] == "migration"
    assert finished["status"] == "finished"
    assert finished["source_compute"] == source
    assert finished["dest_compute"] in set(cloud.processes.hosts) - {source}
    assert finished["old_instance_type_id"] == finished["new_instance_type_id"] is not None
    assert confirmed["status"] == "confirmed"
    assert confirmed["uuid"] == finished["uuid"]
    in_progress = admin.client.get(f"/compute/v2.1/servers/{server_id}/migrations", **V).json()
    assert in_progress == {"migrations": []}

"""List markers, sort keys and filters are no window on other projects or on placement.

Attacks made by a member of one project against another project's resources: another
project's id given as a list ``marker`` (a 200 where a made-up id answers 400 would say the id
exists), sorting and filtering servers by host or node (where each server runs is for admins),
and filters Nova keeps for admins (project_id, uuid). Every probe answers exactly as a probe
with a made-up value does, and nothing of the other project is shown or changed.
"""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from apps.flavors.services import add_access, create_flavor, ensure_standard_flavors
from apps.images.services import create_image
from apps.servers.models import Migration, Server
from tests.conftest import Caller

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"


def mv(minor: int) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute 2.{minor}"}


V = mv(96)


@pytest.fixture
def victim(make_caller: Callable[..., Caller]) -> Caller:
    """A member of another project than the attacker's (`member`)."""
    return make_caller("member")


def create_server(caller: Caller, image_id: str, name: str) -> str:
    """A server of `caller`'s project (it stays in BUILD: no compute hosts run here)."""
    body = {"server": {"name": name, "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = caller.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def server_rows(project_id: str) -> list[tuple[Any, ...]]:
    """What must not change: a project's servers, every column that an API write could touch."""
    return list(
        Server.with_deleted.filter(project_id=project_id)
        .order_by("pk")
        .values_list("uuid", "name", "vm_state", "task_state", "deleted", "updated_at")
    )


def same_refusal(probe: Any, unknown: Any, probed: str, made_up: str) -> None:
    """`probe` (with an id that exists elsewhere) answers as `unknown` (a made-up id) does."""
    assert probe.status_code == unknown.status_code == 400, (probe.content, unknown.content)
    assert probe.content.decode().replace(probed, "ID") == unknown.content.decode().replace(
        made_up, "ID"
    )


# --- servers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [SERVERS, f"{SERVERS}/detail"])
def test_a_foreign_server_as_marker_answers_as_an_unknown_id(
    member, victim, image_id, path
) -> None:
    # given: one server in each project
    create_server(member, image_id, "mine")
    theirs = create_server(victim, image_id, "theirs")
    before = server_rows(str(victim.project.id))
    made_up = str(uuid.uuid4())
    # when
    probe = member.client.get(path, {"marker": theirs}, **V)
    unknown = member.client.get(path, {"marker": made_up}, **V)
    # then
    same_refusal(probe, unknown, theirs, made_up)
    assert probe.json()["badRequest"]["message"] == f"marker [{theirs}] not found"
    assert b"theirs" not in probe.content
    assert server_rows(str(victim.project.id)) == before


def test_a_marker_that_is_no_uuid_is_the_same_400(member) -> None:
    response = member.client.get(SERVERS, {"marker": "not-a-uuid"}, **V)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "marker [not-a-uuid] not found"


def test_own_markers_still_page_and_admins_page_across_projects(
    member, victim, admin, image_id
) -> None:
    # given
    first = create_server(member, image_id, "first")
    second = create_server(member, image_id, "second")
    theirs = create_server(victim, image_id, "theirs")
    # when: the newest first, so after `second` comes `first`
    own = member.client.get(SERVERS, {"marker": second}, **V)
    everyone = admin.client.get(SERVERS, {"marker": theirs, "all_tenants": "1"}, **V)
    own_project_only = admin.client.get(SERVERS, {"marker": theirs}, **V)
    # then
    assert own.status_code == 200
    assert [s["id"] for s in own.json()["servers"]] == [first]
    assert everyone.status_code == 200
    assert {s["id"] for s in everyone.json()["servers"]} == {first, second}
    # without all_tenants an admin lists its own project, and the marker is looked up there
    assert own_project_only.status_code == 400


def test_a_deleted_own_server_is_still_a_valid_marker(member, image_id) -> None:
    # given
    older = create_server(member, image_id, "older")
    gone = create_server(member, image_id, "gone")
    assert member.client.delete(f"{SERVERS}/{gone}", **V).status_code == 204
    # when
    response = member.client.get(SERVERS, {"marker": gone}, **V)
    # then
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["servers"]] == [older]


@pytest.mark.parametrize("key", ["host", "node"])
def test_sorting_by_placement_is_refused_to_non_admins(member, admin, image_id, key) -> None:
    # given
    create_server(member, image_id, "mine")
    # when
    refused = member.client.get(SERVERS, {"sort_key": key}, **V)
    refused_second_key = member.client.get(
        f"{SERVERS}/detail", {"sort_key": ["display_name", key]}, **V
    )
    as_admin = admin.client.get(SERVERS, {"sort_key": key, "all_tenants": "1"}, **V)
    # then
    assert refused.status_code == 403
    message = refused.json()["forbidden"]["message"]
    assert message == f"Only administrators can sort servers by {key}"
    assert refused_second_key.status_code == 403
    assert as_admin.status_code == 200


def test_keys_nova_ignores_are_ignored_before_2_75_and_refused_after(member, image_id) -> None:
    # given: newest first by default
    older = create_server(member, image_id, "b-older")
    newer = create_server(member, image_id, "a-newer")
    # when: an ignored key with its direction, then a real key sorted by the second direction
    ignored = member.client.get(
        SERVERS, {"sort_key": ["vcpus", "display_name"], "sort_dir": ["desc", "asc"]}, **mv(74)
    )
    refused = member.client.get(SERVERS, {"sort_key": "vcpus"}, **mv(75))
    # then: vcpus and its "desc" are dropped; display_name sorts ascending
    assert ignored.status_code == 200
    assert [s["id"] for s in ignored.json()["servers"]] == [newer, older]
    assert refused.status_code == 400


def test_locked_is_ignored_before_2_73_and_a_sort_key_from_it(member, image_id) -> None:
    create_server(member, image_id, "mine")
    assert member.client.get(SERVERS, {"sort_key": "locked"}, **mv(72)).status_code == 200
    assert member.client.get(SERVERS, {"sort_key": "locked"}, **mv(73)).status_code == 200
    assert member.client.get(SERVERS, {"sort_key": "locked"}, **mv(96)).status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("host", "no-such-host"),
        ("node", "no-such-node"),
        ("launched_on", "no-such-host"),
        ("uuid", "00000000-0000-0000-0000-000000000000"),
        ("project_id", "VICTIM"),
        ("tenant_id", "VICTIM"),
        ("description", "^$nothing"),
    ],
)
def test_admin_only_filters_are_ignored_for_non_admins(
    member, victim, admin, image_id, name, value
) -> None:
    # given
    mine = create_server(member, image_id, "mine")
    theirs = create_server(victim, image_id, "theirs")
    value = value.replace("VICTIM", str(victim.project.id))
    # when: a filter that would select nothing (or the victim's servers) if it were applied
    response = member.client.get(SERVERS, {name: value}, **V)
    # then: ignored, as Nova ignores it: the member's own list, nothing of the victim's
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["servers"]] == [mine]
    assert theirs not in response.content.decode()


def test_admins_filter_by_host(admin, member, image_id) -> None:
    create_server(member, image_id, "mine")
    response = admin.client.get(SERVERS, {"host": "no-such-host", "all_tenants": "1"}, **V)
    assert response.status_code == 200
    assert response.json()["servers"] == []


def test_user_filters_open_by_microversion(member, image_id) -> None:
    # given: a server without a key pair
    mine = create_server(member, image_id, "mine")
    # when: key_name is a user filter from 2.83 only
    before = member.client.get(SERVERS, {"key_name": "no-such-key"}, **mv(82))
    after = member.client.get(SERVERS, {"key_name": "no-such-key"}, **mv(83))
    # then
    assert [s["id"] for s in before.json()["servers"]] == [mine]
    assert after.json()["servers"] == []


# --- flavors -------------------------------------------------------------------------------------
@pytest.fixture
def private_flavor(victim) -> str:
    flavor = create_flavor(
        name="secret", flavorid="secret-1", memory_mb=64, vcpus=1, root_gb=1, is_public=False
    )
    add_access(flavor=flavor, project_id=str(victim.project.id))
    return flavor.flavorid


@pytest.mark.parametrize("path", ["/compute/v2.1/flavors", "/compute/v2.1/flavors/detail"])
def test_a_private_flavor_as_marker_answers_as_an_unknown_id(
    member, victim, admin, private_flavor, path
) -> None:
    ensure_standard_flavors()
    probe = member.client.get(path, {"marker": private_flavor}, **V)
    unknown = member.client.get(path, {"marker": "no-such-flavor"}, **V)
    same_refusal(probe, unknown, private_flavor, "no-such-flavor")
    assert probe.json()["badRequest"]["message"] == f"marker [{private_flavor}] not found"
    assert b"secret" not in probe.content.replace(private_flavor.encode(), b"")
    # the project it is shared with, and admins, page after it
    assert victim.client.get(path, {"marker": private_flavor}, **V).status_code == 200
    assert admin.client.get(path, {"marker": private_flavor}, **V).status_code == 200


# --- key pairs -----------------------------------------------------------------------------------
def test_another_users_key_pair_as_marker_answers_as_an_unknown_name(member, victim) -> None:
    # given
    created = victim.client.post(
        "/compute/v2.1/os-keypairs", {"keypair": {"name": "their-key"}}, format="json", **mv(35)
    )
    assert created.status_code in (200, 201), created.content
    # when
    url = "/compute/v2.1/os-keypairs"
    probe = member.client.get(url, {"marker": "their-key"}, **mv(35))
    unknown = member.client.get(url, {"marker": "no-such-key"}, **mv(35))
    # then
    same_refusal(probe, unknown, "their-key", "no-such-key")


# --- usage ---------------------------------------------------------------------------------------
def test_usage_pages_only_after_the_projects_own_servers(member, victim, image_id) -> None:
    # given
    mine = create_server(member, image_id, "mine")
    theirs = create_server(victim, image_id, "theirs")
    made_up = str(uuid.uuid4())
    url = f"/compute/v2.1/os-simple-tenant-usage/{member.project.id}"
    # when
    probe = member.client.get(url, {"marker": theirs}, **mv(40))
    unknown = member.client.get(url, {"marker": made_up}, **mv(40))
    own = member.client.get(url, {"marker": mine}, **mv(40))
    # then
    same_refusal(probe, unknown, theirs, made_up)
    assert own.status_code == 200


# --- migrations ----------------------------------------------------------------------------------
def test_own_project_migrations_page_only_after_own_migrations(
    member, victim, image_id, settings
) -> None:
    # given: an operator lets members list their own project's migrations (Nova's project
    # manager may), and each project has one
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "POLICY_OVERRIDES": {"os_compute_api:os-migrations:index": "project_reader_or_admin"},
    }
    rows = {}
    for caller in (member, victim):
        server = Server.objects.get(uuid=create_server(caller, image_id, "moved"))
        rows[caller.project.id] = Migration.objects.create(
            server=server,
            user_id=server.user_id,
            project_id=server.project_id,
            migration_type=Migration.Type.MIGRATION,
            status=Migration.Status.FINISHED,
            source_host="src",
            dest_host="dst",
        )
    theirs = str(rows[victim.project.id].uuid)
    made_up = str(uuid.uuid4())
    query = {"project_id": str(member.project.id)}
    url = "/compute/v2.1/os-migrations"
    # when
    probe = member.client.get(url, {**query, "marker": theirs}, **mv(80))
    unknown = member.client.get(url, {**query, "marker": made_up}, **mv(80))
    own = member.client.get(url, {**query, "marker": str(rows[member.project.id].uuid)}, **mv(80))
    # then
    same_refusal(probe, unknown, theirs, made_up)
    assert own.status_code == 200


# --- images --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/compute/v2.1/images", "/image/v2/images"])
def test_a_private_image_as_marker_answers_as_an_unknown_id(member, victim, path) -> None:
    # given
    theirs = str(create_image(owner=victim.project, name="their-image", visibility="private").pk)
    made_up = str(uuid.uuid4())
    version = mv(35) if path.startswith("/compute") else {}
    # when
    probe = member.client.get(path, {"marker": theirs}, **version)
    unknown = member.client.get(path, {"marker": made_up}, **version)
    # then
    same_refusal(probe, unknown, theirs, made_up)
    assert b"their-image" not in probe.content
    assert victim.client.get(path, {"marker": theirs}, **version).status_code == 200

"""Server request and response shapes Tempest checks against Nova's schemas, without workers:
the servers stay in BUILD, which is all a shape needs (or fail in the conductor's scheduling
pass, run in the test, for the fault's shape)."""

import pytest

from apps.conductor.services import schedule_and_build_servers
from apps.servers.models import InstanceAction, InstanceFault, Server
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"


def version(minor: int) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute 2.{minor}"}


def create(caller, image_id: str, **extra) -> dict:
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", **extra}}
    response = caller.client.post(SERVERS, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["server"]


def test_access_ipv6_ending_in_dotted_quad_is_accepted_and_shown_compressed(member, image_id):
    # when
    server = create(
        member,
        image_id,
        accessIPv4="1.1.1.1",
        accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2",
    )
    # then
    shown = member.client.get(f"{SERVERS}/{server['id']}").json()["server"]
    assert shown["accessIPv4"] == "1.1.1.1"
    assert shown["accessIPv6"] == "::babe:dc0c:1602"


@pytest.mark.parametrize("address", ["1.1.1", "::babe::1", "2001:db8::1.2.3"])
def test_access_ipv6_that_is_no_address_is_refused(member, image_id, address):
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "accessIPv6": address}}
    response = member.client.post(SERVERS, body, format="json")
    assert response.status_code == 400
    assert "accessIPv6" in response.json()["badRequest"]["message"]


def test_min_count_alone_creates_that_many(member, image_id):
    # when: no max_count (Nova's default is min_count, not 1)
    create(member, image_id, min_count=2)
    # then
    assert Server.objects.filter(project_id=member.project.pk).count() == 2


def test_update_answers_the_basic_body_before_2_75(member, image_id):
    server_id = create(member, image_id)["id"]
    # when
    response = member.client.put(
        f"{SERVERS}/{server_id}", {"server": {"name": "renamed"}}, format="json", **version(74)
    )
    # then
    body = response.json()["server"]
    assert response.status_code == 200
    assert body["name"] == "renamed"
    for extended in (
        "OS-EXT-STS:vm_state",
        "OS-EXT-AZ:availability_zone",
        "OS-SRV-USG:launched_at",
        "config_drive",
        "key_name",
        "security_groups",
        "os-extended-volumes:volumes_attached",
    ):
        assert extended not in body
    assert body["locked_reason"] is None
    assert body["trusted_image_certificates"] is None


def test_update_answers_the_show_body_from_2_75(member, image_id):
    server_id = create(member, image_id)["id"]
    # when
    response = member.client.put(
        f"{SERVERS}/{server_id}", {"server": {"name": "renamed"}}, format="json", **version(75)
    )
    # then
    shown = member.client.get(f"{SERVERS}/{server_id}", **version(75)).json()["server"]
    assert set(response.json()["server"]) == set(shown)
    assert "OS-EXT-STS:vm_state" in shown


@pytest.mark.parametrize(("minor", "present"), [(62, False), (63, True), (96, True)])
def test_trusted_image_certificates_shown_null_from_2_63(member, image_id, minor, present):
    server_id = create(member, image_id)["id"]
    shown = member.client.get(f"{SERVERS}/{server_id}", **version(minor)).json()["server"]
    listed = member.client.get(f"{SERVERS}/detail", **version(minor)).json()["servers"][0]
    assert ("trusted_image_certificates" in shown) is present
    assert ("trusted_image_certificates" in listed) is present
    if present:
        assert shown["trusted_image_certificates"] is None


def test_server_groups_shown_by_get_but_not_in_the_detail_list(member, image_id):
    server_id = create(member, image_id)["id"]
    shown = member.client.get(f"{SERVERS}/{server_id}", **version(71)).json()["server"]
    listed = member.client.get(f"{SERVERS}/detail", **version(71)).json()["servers"][0]
    assert shown["server_groups"] == []
    assert "server_groups" not in listed


def test_restore_is_a_conflict_as_no_server_is_ever_soft_deleted(member, image_id):
    server_id = create(member, image_id)["id"]
    response = member.client.post(f"{SERVERS}/{server_id}/action", {"restore": None}, format="json")
    assert response.status_code == 409
    assert "Cannot 'restore'" in response.json()["conflictingRequest"]["message"]


def test_diagnostics_are_for_admins_and_not_implemented(member, admin, image_id):
    server_id = create(member, image_id)["id"]
    assert member.client.get(f"{SERVERS}/{server_id}/diagnostics").status_code == 403
    response = admin.client.get(f"{SERVERS}/{server_id}/diagnostics")
    assert response.status_code == 501
    assert "notImplemented" in response.json()


@pytest.mark.parametrize("name", [12345, True, ["vm"]])
def test_a_name_that_is_not_a_string_is_refused(member, image_id, name):
    body = {"server": {"name": name, "imageRef": image_id, "flavorRef": "0"}}
    response = member.client.post(SERVERS, body, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["badRequest"]["message"]


def test_progress_shown_only_in_progress_statuses(member, admin, image_id):
    # given: a server in BUILD, and one an admin reset to ERROR
    building = create(member, image_id)["id"]
    failed = create(member, image_id)["id"]
    reset = {"os-resetState": {"state": "error"}}
    admin.client.post(f"{SERVERS}/{failed}/action", reset, format="json")
    # when
    shown = member.client.get(f"{SERVERS}/{building}").json()["server"]
    errored = member.client.get(f"{SERVERS}/{failed}").json()["server"]
    # then
    assert shown["progress"] == 0
    assert "progress" not in errored


def test_a_no_valid_host_fault_body_is_novas_and_leaves_the_explanation_out(
    member, admin, image_id
):
    # given: a server the scheduling pass could place nowhere (its one host is too small)
    create_host("cn-small", memory_mb=1024)
    server_id = create(member, image_id, flavorRef="3")["id"]
    schedule_and_build_servers(
        server_uuids=[server_id],
        request_id=InstanceAction.objects.get(server__uuid=server_id).request_id,
    )
    assert InstanceFault.objects.get(server__uuid=server_id).explanation is not None
    # when / then: the owner sees code, created and message, shown and listed
    for path, key in ((f"{SERVERS}/{server_id}", "server"), (f"{SERVERS}/detail", "servers")):
        body = member.client.get(path, **version(96)).json()[key]
        fault = (body if key == "server" else body[0])["fault"]
        assert sorted(fault) == ["code", "created", "message"]
        assert fault["code"] == 500
        assert fault["message"].startswith("No valid host was found.")
        assert "cn-small" not in str(body)
    # and an admin the details too, with the host names, and nothing more
    fault = admin.client.get(f"{SERVERS}/{server_id}", **version(96)).json()["server"]["fault"]
    assert sorted(fault) == ["code", "created", "details", "message"]
    assert "cn-small" in fault["details"]

"""A server's whole life through the API, with real workers on libvirt's test hypervisor."""

import pytest

from apps.servers.models import InstanceActionEvent, Server

pytestmark = pytest.mark.django_db(transaction=True)

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def create(client, image_id, name="vm", **extra):
    body = {
        "server": {
            "name": name,
            "imageRef": image_id,
            "flavorRef": "0",
            "networks": "none",
            **extra,
        }
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def test_server_builds_to_active_on_a_registered_host(cloud, member):
    # when
    server_id = create(member.client, cloud.image_id)
    server = cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"})
    # then
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-STS:power_state"] == 1
    assert server["OS-EXT-STS:vm_state"] == "active"
    assert server["hostId"]
    events = member.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions").json()
    assert [a["action"] for a in events["instanceActions"]] == ["create"]


def test_create_records_scheduling_and_the_hosts_build_with_their_times(cloud, member):
    # when
    server_id = create(member.client, cloud.image_id)
    server = cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    # then: both steps, each with a result, the build with its host and its own start time
    actions = f"/compute/v2.1/servers/{server_id}/os-instance-actions"
    [action] = member.client.get(actions, **V).json()["instanceActions"]
    detail = member.client.get(f"{actions}/{action['request_id']}", **V).json()
    events = {e["event"]: e for e in detail["instanceAction"]["events"]}
    assert set(events) == {
        "conductor_schedule_and_build_instances",
        "compute_build_and_run_instance",
    }
    assert {e["result"] for e in events.values()} == {"Success"}
    build = events["compute_build_and_run_instance"]
    assert build["start_time"] <= build["finish_time"]
    recorded = InstanceActionEvent.objects.get(
        action__server__uuid=server_id, event="compute_build_and_run_instance"
    )
    assert recorded.host == Server.objects.get(uuid=server_id).host
    assert events["conductor_schedule_and_build_instances"]["start_time"] <= build["start_time"]
    assert server["OS-EXT-AZ:availability_zone"] == "nova"


def test_a_server_takes_the_availability_zone_of_its_hosts_aggregate(cloud, member):
    from apps.hosts.services import add_aggregate_host, create_aggregate

    # given: every running host in zone "az-life"
    aggregate = create_aggregate(name="life-zone", availability_zone="az-life")
    for host in cloud.processes.hosts:
        add_aggregate_host(aggregate=aggregate, host=host)
    # when
    server_id = create(member.client, cloud.image_id, availability_zone="az-life")
    server = cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"})
    # then
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-AZ:availability_zone"] == "az-life"


def test_stop_start_reboot_and_delete(cloud, member):
    server_id = create(member.client, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    url = f"/compute/v2.1/servers/{server_id}/action"

    assert member.client.post(url, {"os-stop": None}, format="json").status_code == 202
    stopped = cloud.wait_for_server(member.client, server_id, {"SHUTOFF"})
    assert stopped["OS-EXT-STS:power_state"] == 4

    assert member.client.post(url, {"os-start": None}, format="json").status_code == 202
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})

    reboot = member.client.post(url, {"reboot": {"type": "HARD"}}, format="json")
    assert reboot.status_code == 202
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})

    assert member.client.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_for_server(member.client, server_id, {"DELETED"})
    actions = member.client.get(
        f"/compute/v2.1/servers/{server_id}/os-instance-actions", **V
    ).json()["instanceActions"]
    assert {a["action"] for a in actions} == {"create", "stop", "start", "reboot", "delete"}


def test_rebuild_recreates_the_server_from_another_image(cloud, member, tmp_path):
    from apps.identity.services import ensure_project
    from apps.images.services import ensure_image_from_file
    from tests.cloud import tiny_qcow2

    # given: an active server and a second image
    server_id = create(member.client, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    other = ensure_image_from_file(
        name="other",
        path=tiny_qcow2(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={"purpose": "rebuild"},
    )
    # when
    response = member.client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        {"rebuild": {"imageRef": str(other.id), "name": "rebuilt", "metadata": {"k": "v"}}},
        format="json",
        **V,
    )
    # then
    assert response.status_code == 202, response.content
    assert response.json()["server"]["status"] == "REBUILD"
    server = cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["image"]["id"] == str(other.id)
    assert server["name"] == "rebuilt"
    assert server["metadata"] == {"k": "v"}
    actions = member.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions").json()
    assert actions["instanceActions"][0]["action"] == "rebuild"


def test_a_stopped_server_is_rebuilt_stopped(cloud, member):
    # given: a stopped server
    server_id = create(member.client, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    url = f"/compute/v2.1/servers/{server_id}/action"
    assert member.client.post(url, {"os-stop": None}, format="json").status_code == 202
    cloud.wait_for_server(member.client, server_id, {"SHUTOFF"})
    # when
    response = member.client.post(
        url, {"rebuild": {"imageRef": cloud.image_id}}, format="json", **V
    )
    # then
    assert response.status_code == 202, response.content
    server = cloud.wait_for_server(member.client, server_id, {"SHUTOFF", "ACTIVE", "ERROR"})
    assert server["status"] == "SHUTOFF", server.get("fault")
    assert server["OS-EXT-STS:power_state"] == 4
    actions = member.client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions", **V)
    assert actions.json()["instanceActions"][0]["action"] == "rebuild"


def test_rebuild_of_a_locked_server_is_refused_to_its_owner(cloud, member, admin):
    server_id = create(member.client, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    url = f"/compute/v2.1/servers/{server_id}/action"
    assert member.client.post(url, {"lock": None}, format="json").status_code == 202
    # when
    refused = member.client.post(url, {"rebuild": {"imageRef": cloud.image_id}}, format="json")
    # then
    assert refused.status_code == 409
    assert refused.json()["conflictingRequest"]["message"] == f"Instance {server_id} is locked"
    shown = member.client.get(f"/compute/v2.1/servers/{server_id}", **V).json()["server"]
    assert shown["status"] == "ACTIVE"


def test_revert_resize_brings_back_the_old_flavor(cloud, member):
    server_id = create(member.client, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    url = f"/compute/v2.1/servers/{server_id}/action"
    assert member.client.post(url, {"resize": {"flavorRef": "1"}}, format="json").status_code == 202
    resized = cloud.wait_for_server(member.client, server_id, {"VERIFY_RESIZE"})
    assert resized["flavor"]["original_name"] == "m1.tiny"
    # when
    assert member.client.post(url, {"revertResize": None}, format="json").status_code == 202
    # then
    reverted = cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"})
    assert reverted["status"] == "ACTIVE", reverted.get("fault")
    assert reverted["flavor"]["original_name"] == "m1.nano"
    assert reverted["OS-EXT-STS:power_state"] == 1
    migrations = cloud_migrations(server_id)
    assert migrations == ["reverted"]


def cloud_migrations(server_id):
    from apps.servers.models import Migration

    return list(Migration.objects.filter(server__uuid=server_id).values_list("status", flat=True))


def test_rebuild_answer_follows_the_microversion(cloud, member):
    server_id = create(member.client, cloud.image_id)
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    url = f"/compute/v2.1/servers/{server_id}/action"
    answers = {}
    for minor in (1, 57, 75):
        # when
        response = member.client.post(
            url,
            {"rebuild": {"imageRef": cloud.image_id}},
            format="json",
            HTTP_OPENSTACK_API_VERSION=f"compute 2.{minor}",
        )
        assert response.status_code == 202, response.content
        answers[minor] = response.json()["server"]
        cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    # then: the basic body before 2.75 (key_name from 2.54, user_data from 2.57), then GET's
    assert "OS-EXT-STS:vm_state" not in answers[1]
    assert "key_name" not in answers[1]
    assert "user_data" not in answers[1]
    assert answers[1]["adminPass"]
    assert "OS-EXT-STS:vm_state" not in answers[57]
    assert answers[57]["key_name"] is None
    assert answers[57]["user_data"] is None
    assert answers[75]["OS-EXT-STS:vm_state"] == "active"
    assert answers[75]["user_data"] is None
    assert "OS-EXT-SRV-ATTR:user_data" not in answers[75]

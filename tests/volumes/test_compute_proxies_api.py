"""The compute API's volume proxies (os-volumes, os-snapshots), as Tempest's compute volume
tests use them at 2.1: Nova's camelCase view, offset and limit, 404s for unknown, malformed
and empty ids, and nothing from 2.36."""

import uuid

import pytest

from apps.volumes.choices import AttachStatus, VolumeStatus
from apps.volumes.models import Volume, VolumeAttachment, VolumeSnapshot
from tests.volumes.conftest import available_volume, cinder_error, host_reports, ok

pytestmark = pytest.mark.django_db

C = "/compute/v2.1"
V21 = {"HTTP_X_OPENSTACK_NOVA_API_VERSION": "2.1"}
VOLUME_KEYS = {
    "id", "status", "size", "availabilityZone", "createdAt", "displayName",
    "displayDescription", "volumeType", "snapshotId", "metadata", "attachments",
}  # fmt: skip


def _create(client, expected=200, **attrs):
    response = client.post(f"{C}/os-volumes", {"volume": attrs}, format="json", **V21)
    return ok(response, expected)


def test_os_volumes_create_show_list_delete(member, pool):
    created = _create(member.client, size=1, display_name="t", metadata={"a": "b"})["volume"]
    assert set(created) == VOLUME_KEYS
    assert (created["displayName"], created["size"], created["metadata"]) == ("t", 1, {"a": "b"})
    assert created["attachments"] == [{}]
    assert created["availabilityZone"] == "nova"
    host_reports(created["id"], "create")
    shown = ok(member.client.get(f"{C}/os-volumes/{created['id']}", **V21))["volume"]
    assert shown["status"] == "available"
    listed = ok(member.client.get(f"{C}/os-volumes", **V21))["volumes"]
    detail = ok(member.client.get(f"{C}/os-volumes/detail", **V21))["volumes"]
    assert listed == detail == [shown]
    response = member.client.delete(f"{C}/os-volumes/{created['id']}", **V21)
    assert response.status_code == 202
    host_reports(created["id"], "delete")
    cinder_error(member.client.get(f"{C}/os-volumes/{created['id']}", **V21), 404, "itemNotFound")


def test_os_volumes_offset_and_limit(member, pool):
    ids = [_create(member.client, size=1)["volume"]["id"] for _ in range(3)][::-1]
    page = ok(member.client.get(f"{C}/os-volumes?offset=1&limit=1", **V21))["volumes"]
    assert [v["id"] for v in page] == [ids[1]]
    all_of_them = ok(member.client.get(f"{C}/os-volumes/detail?limit=10", **V21))["volumes"]
    assert [v["id"] for v in all_of_them] == ids
    cinder_error(member.client.get(f"{C}/os-volumes?offset=x", **V21), 400, "badRequest")


@pytest.mark.parametrize("size", ["#$%", "", "0", 0, -1, None, True, [1]])
def test_os_volumes_bad_size_is_400(member, pool, size):
    cinder_error(
        member.client.post(f"{C}/os-volumes", {"volume": {"size": size}}, format="json", **V21),
        400, "badRequest",
    )  # fmt: skip


def test_os_volumes_unknown_keys_and_bodies_are_400(member, pool):
    for body in ({"volume": {"size": 1, "status": "available"}}, {"volume": {}}, {}, []):
        response = member.client.post(f"{C}/os-volumes", body, format="json", **V21)
        cinder_error(response, 400, "badRequest")
    assert not Volume.objects.exists()


def test_os_volumes_404s(member, make_caller, pool):
    other = make_caller()
    theirs = available_volume(other.client)
    for key in (str(uuid.uuid4()), "not-a-uuid", theirs["id"]):
        cinder_error(member.client.get(f"{C}/os-volumes/{key}", **V21), 404, "itemNotFound")
        cinder_error(member.client.delete(f"{C}/os-volumes/{key}", **V21), 404, "itemNotFound")
    # an empty id with a trailing slash names no volume
    cinder_error(member.client.get(f"{C}/os-volumes/", **V21), 404, "itemNotFound")
    cinder_error(member.client.delete(f"{C}/os-volumes/", **V21), 404, "itemNotFound")
    assert ok(member.client.get(f"{C}/os-volumes", **V21))["volumes"] == []
    assert Volume.objects.get(pk=theirs["id"]).status == "available"


def test_gone_from_2_36(member, pool):
    newer = {"HTTP_OPENSTACK_API_VERSION": "compute 2.36"}
    cinder_error(member.client.get(f"{C}/os-volumes", **newer), 404, "itemNotFound")
    cinder_error(member.client.get(f"{C}/os-snapshots", **newer), 404, "itemNotFound")
    assert (
        member.client.get(f"{C}/os-volumes", HTTP_OPENSTACK_API_VERSION="compute 2.35").status_code
        == 200
    )


def test_os_volumes_shows_attachments(member, pool):
    volume = available_volume(member.client)
    server = uuid.uuid4()
    VolumeAttachment.objects.create(
        volume_id=volume["id"], instance_uuid=server, status=AttachStatus.ATTACHED,
        device="/dev/vdb",
    )  # fmt: skip
    Volume.objects.filter(pk=volume["id"]).update(status=VolumeStatus.IN_USE)
    shown = ok(member.client.get(f"{C}/os-volumes/{volume['id']}", **V21))["volume"]
    assert shown["attachments"] == [
        {
            "id": volume["id"],
            "volumeId": volume["id"],
            "serverId": str(server),
            "device": "/dev/vdb",
        }
    ]


def test_os_snapshots(member, reader, pool):
    volume = available_volume(member.client)
    body = {"snapshot": {"volume_id": volume["id"], "display_name": "s", "force": "false"}}
    created = ok(member.client.post(f"{C}/os-snapshots", body, format="json", **V21))["snapshot"]
    assert set(created) == {
        "id", "volumeId", "status", "size", "createdAt", "displayName", "displayDescription",
    }  # fmt: skip
    assert (created["volumeId"], created["displayName"], created["status"]) == (
        volume["id"], "s", "creating",
    )  # fmt: skip
    host_reports(volume["id"], "snapshot", snapshot_id=created["id"])
    shown = ok(member.client.get(f"{C}/os-snapshots/{created['id']}", **V21))["snapshot"]
    assert shown["status"] == "available"
    assert ok(member.client.get(f"{C}/os-snapshots", **V21))["snapshots"] == [shown]
    assert ok(member.client.get(f"{C}/os-snapshots/detail", **V21))["snapshots"] == [shown]
    cinder_error(member.client.post(f"{C}/os-snapshots", {"snapshot": {"volume_id": "x"}},
                                    format="json", **V21), 404, "itemNotFound")  # fmt: skip
    extra = {"snapshot": {"volume_id": volume["id"], "bad": 1}}
    response = member.client.post(f"{C}/os-snapshots", extra, format="json", **V21)
    cinder_error(response, 400, "badRequest")
    cinder_error(reader.client.delete(f"{C}/os-snapshots/{created['id']}", **V21), 403, "forbidden")
    assert member.client.delete(f"{C}/os-snapshots/{created['id']}", **V21).status_code == 202
    host_reports(volume["id"], "delete_snapshot", snapshot_id=created["id"])
    assert not VolumeSnapshot.objects.exists()
    cinder_error(member.client.get(f"{C}/os-snapshots/{created['id']}", **V21), 404, "itemNotFound")

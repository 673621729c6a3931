"""The block-storage API's snapshots, volume types, limits, quota sets and zones."""

import uuid

import pytest

from apps.quotas import services as quotas
from apps.volumes.choices import AttachStatus, VolumeStatus
from apps.volumes.models import Volume, VolumeAttachment, VolumeSnapshot, VolumeType
from tests.volumes.conftest import (
    API,
    available_volume,
    cinder_error,
    create_volume,
    header,
    host_reports,
    ok,
)

pytestmark = pytest.mark.django_db

SNAPSHOT_KEYS = {
    "id", "name", "description", "status", "size", "volume_id", "created_at", "updated_at",
    "metadata",
}  # fmt: skip
SNAPSHOT_SHOW_KEYS = SNAPSHOT_KEYS | {
    "os-extended-snapshot-attributes:project_id",
    "os-extended-snapshot-attributes:progress",
}


def _snapshot(client, volume_id, expected=202, version="3.0", **attrs):
    response = client.post(
        f"{API}/snapshots", {"snapshot": {"volume_id": volume_id, **attrs}}, format="json",
        **header(version),
    )  # fmt: skip
    body = ok(response, expected)
    return body["snapshot"] if expected == 202 else body


def _in_use(volume_id):
    VolumeAttachment.objects.create(
        volume_id=volume_id, instance_uuid=uuid.uuid4(), status=AttachStatus.ATTACHED
    )
    Volume.objects.filter(pk=volume_id).update(status=VolumeStatus.IN_USE)


# --- snapshots ---------------------------------------------------------------------------------
def test_snapshot_create_list_show_delete(member, pool, host_queue,
                                          django_capture_on_commit_callbacks):  # fmt: skip
    volume = available_volume(member.client, size=2)
    with django_capture_on_commit_callbacks(execute=True):
        snap = _snapshot(member.client, volume["id"], name="s1", metadata={"k": "v"})
    assert set(snap) == SNAPSHOT_KEYS
    assert (snap["status"], snap["size"], snap["name"]) == ("creating", 2, "s1")
    (task, payload) = host_queue()[-1]
    assert task == "compute.create_volume_snapshot"
    assert (payload["snapshot_id"], payload["volume_id"]) == (snap["id"], volume["id"])
    host_reports(volume["id"], "snapshot", snapshot_id=snap["id"])
    shown = ok(member.client.get(f"{API}/snapshots/{snap['id']}"))["snapshot"]
    assert set(shown) == SNAPSHOT_SHOW_KEYS
    assert shown["status"] == "available"
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    assert shown["os-extended-snapshot-attributes:project_id"] == member.project.pk
    at_365 = ok(member.client.get(f"{API}/snapshots/{snap['id']}", **header("3.65")))["snapshot"]
    assert set(at_365) == SNAPSHOT_SHOW_KEYS | {"user_id", "group_snapshot_id", "consumes_quota"}
    listed = ok(member.client.get(f"{API}/snapshots"))["snapshots"]
    assert [s["id"] for s in listed] == [snap["id"]]
    assert set(listed[0]) == SNAPSHOT_KEYS
    detail = ok(member.client.get(f"{API}/snapshots/detail?volume_id={volume['id']}"))
    assert [s["id"] for s in detail["snapshots"]] == [snap["id"]]
    assert ok(member.client.get(f"{API}/snapshots/detail?volume_id=nope"))["snapshots"] == []
    assert ok(member.client.get(f"{API}/snapshots/detail?name=s1"))["snapshots"]
    assert ok(member.client.get(f"{API}/snapshots/detail?status=error"))["snapshots"] == []
    renamed = ok(member.client.put(f"{API}/snapshots/{snap['id']}",
                                   {"snapshot": {"name": "s2"}}, format="json"))  # fmt: skip
    assert renamed["snapshot"]["name"] == "s2"
    # a name lookup gets 404 first
    cinder_error(member.client.get(f"{API}/snapshots/s2"), 404, "itemNotFound")
    with django_capture_on_commit_callbacks(execute=True):
        assert member.client.delete(f"{API}/snapshots/{snap['id']}").status_code == 202
    assert host_queue()[-1][0] == "compute.delete_volume_snapshot"
    again = member.client.delete(f"{API}/snapshots/{snap['id']}")
    cinder_error(again, 400, "badRequest")
    host_reports(volume["id"], "delete_snapshot", snapshot_id=snap["id"])
    cinder_error(member.client.get(f"{API}/snapshots/{snap['id']}"), 404, "itemNotFound")


def test_snapshot_pagination_with_marker(member, pool):
    volume = available_volume(member.client)
    ids = [_snapshot(member.client, volume["id"])["id"] for _ in range(3)][::-1]
    first = ok(member.client.get(f"{API}/snapshots/detail?limit=2"))["snapshots"]
    rest = ok(member.client.get(f"{API}/snapshots/detail?limit=2&marker={first[-1]['id']}"))
    assert [s["id"] for s in first + rest["snapshots"]] == ids
    last = ok(member.client.get(f"{API}/snapshots/detail?limit=2&marker={ids[-1]}"))
    assert last["snapshots"] == []


def test_snapshot_force_rules_by_microversion(member, pool):
    volume = available_volume(member.client)
    _in_use(volume["id"])
    # below 3.66 an in-use volume needs force
    refused = member.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}},
                                 format="json")  # fmt: skip
    cinder_error(refused, 400, "badRequest")
    assert _snapshot(member.client, volume["id"], force=True)["status"] == "creating"
    assert _snapshot(member.client, volume["id"], force="True")["status"] == "creating"
    # from 3.66 it is allowed without, and force false is a 400
    assert _snapshot(member.client, volume["id"], version="3.66")["status"] == "creating"
    false = member.client.post(
        f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"], "force": False}},
        format="json", **header("3.66"),
    )  # fmt: skip
    cinder_error(false, 400, "badRequest")
    bad = member.client.post(
        f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"], "force": "sometimes"}},
        format="json",
    )  # fmt: skip
    cinder_error(bad, 400, "badRequest")


def test_snapshot_of_a_creating_or_unknown_volume(member, pool):
    creating = create_volume(member.client)
    cinder_error(
        member.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": creating["id"]}},
                           format="json"), 400, "badRequest",
    )  # fmt: skip
    for unknown in (str(uuid.uuid4()), "nope"):
        response = member.client.post(
            f"{API}/snapshots", {"snapshot": {"volume_id": unknown}}, format="json"
        )
        cinder_error(response, 404, "itemNotFound")
    missing = member.client.post(f"{API}/snapshots", {"snapshot": {}}, format="json")
    cinder_error(missing, 400, "badRequest")


# --- types -------------------------------------------------------------------------------------
def test_types_list_show_and_default(member, admin):
    private = VolumeType.objects.create(name="hidden", is_public=False)
    listed = ok(member.client.get(f"{API}/types?is_public=none"))["volume_types"]
    assert [t["name"] for t in listed] == ["__DEFAULT__"]
    assert set(listed[0]) == {
        "id", "name", "description", "is_public", "os-volume-type-access:is_public",
        "extra_specs",
    }  # fmt: skip
    every = ok(admin.client.get(f"{API}/types?is_public=none"))["volume_types"]
    assert {t["name"] for t in every} == {"__DEFAULT__", "hidden"}
    assert [t["name"] for t in ok(admin.client.get(f"{API}/types"))["volume_types"]] == [
        "__DEFAULT__"
    ]
    default = ok(member.client.get(f"{API}/types/default"))["volume_type"]
    assert default["name"] == "__DEFAULT__"
    by_id = ok(member.client.get(f"{API}/types/{default['id']}?is_public=none"))["volume_type"]
    assert by_id == default
    assert ok(member.client.get(f"{API}/types/__DEFAULT__"))["volume_type"] == default
    cinder_error(member.client.get(f"{API}/types/{private.pk}"), 404, "itemNotFound")
    cinder_error(member.client.get(f"{API}/types/gold"), 404, "itemNotFound")
    cinder_error(member.client.get(f"{API}/types?is_public=maybe"), 400, "badRequest")
    cinder_error(
        member.client.post(f"{API}/types", {"volume_type": {"name": "x"}}, format="json"),
        403, "forbidden",
    )  # fmt: skip


# --- limits, quotas, zones ---------------------------------------------------------------------
def test_limits_count_what_the_project_uses(member, pool):
    volume = available_volume(member.client, size=3)
    _snapshot(member.client, volume["id"])
    limits = ok(member.client.get(f"{API}/limits", **header("3.39")))["limits"]
    assert limits["rate"] == []
    assert limits["absolute"] == {
        "maxTotalVolumes": 10, "maxTotalSnapshots": 10, "maxTotalVolumeGigabytes": 1000,
        "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000, "totalVolumesUsed": 1,
        "totalGigabytesUsed": 6, "totalSnapshotsUsed": 1, "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }  # fmt: skip


def test_quota_sets_show_usage_defaults_and_admin_updates(member, reader, admin, pool):
    create_volume(member.client, size=2)
    pid = member.project.pk
    shown = ok(reader.client.get(f"{API}/os-quota-sets/{pid}?usage=False"))["quota_set"]
    assert shown == {
        "id": pid, "volumes": 10, "gigabytes": 1000, "snapshots": 10, "backups": 10,
        "backup_gigabytes": 1000, "per_volume_gigabytes": -1, "groups": 10,
    }  # fmt: skip
    used = ok(member.client.get(f"{API}/os-quota-sets/{pid}?usage=True"))["quota_set"]
    assert used["volumes"] == {"limit": 10, "in_use": 1, "reserved": 0}
    assert used["gigabytes"] == {"limit": 1000, "in_use": 2, "reserved": 0}
    defaults = ok(member.client.get(f"{API}/os-quota-sets/{pid}/defaults"))["quota_set"]
    assert defaults["volumes"] == 10
    body = {"quota_set": {"volumes": 5, "gigabytes": "50"}}
    cinder_error(member.client.put(f"{API}/os-quota-sets/{pid}", body, format="json"), 403,
                 "forbidden")  # fmt: skip
    updated = ok(admin.client.put(f"{API}/os-quota-sets/{pid}", body, format="json"))
    assert (updated["quota_set"]["volumes"], updated["quota_set"]["gigabytes"]) == (5, 50)
    assert quotas.get_volume_limits(pid)["volumes"] == 5
    for bad in ({"volumes": 0}, {"volumes": -2}, {"cores": 1}, {"volumes": "x"},
                {"volumes": True}, {"volumes": 2**40}):  # fmt: skip
        response = admin.client.put(f"{API}/os-quota-sets/{pid}", {"quota_set": bad}, format="json")
        cinder_error(response, 400, "badRequest")
    ok(admin.client.delete(f"{API}/os-quota-sets/{pid}"))
    assert quotas.get_volume_limits(pid)["volumes"] == 10
    # another project's quotas are not a member's to read
    other = ok(admin.client.get(f"{API}/os-quota-sets/{admin.project.pk}"))
    assert other["quota_set"]["id"] == admin.project.pk
    cinder_error(member.client.get(f"{API}/os-quota-sets/{admin.project.pk}"), 403, "forbidden")
    cinder_error(admin.client.get(f"{API}/os-quota-sets/{uuid.uuid4().hex}"), 404, "itemNotFound")


def test_volume_quota_gives_413_over_limit(member, admin, pool):
    quotas.update_volume_quotas(project=member.project, limits={"volumes": 1, "gigabytes": 5})
    create_volume(member.client, size=2)
    second = member.client.post(f"{API}/volumes", {"volume": {"size": 1}}, format="json")
    message = cinder_error(second, 413, "overLimit")
    assert message == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    )
    quotas.update_volume_quotas(project=member.project, limits={"volumes": 10})
    big = member.client.post(f"{API}/volumes", {"volume": {"size": 4}}, format="json")
    assert "exceeds allowed gigabytes quota" in cinder_error(big, 413, "overLimit")
    quotas.update_volume_quotas(project=member.project, limits={"per_volume_gigabytes": 1})
    per_volume = member.client.post(f"{API}/volumes", {"volume": {"size": 2}}, format="json")
    assert "VolumeSizeExceedsLimit" in cinder_error(per_volume, 413, "overLimit")
    assert Volume.objects.filter(project=member.project).count() == 1


def test_snapshot_and_extend_count_against_gigabytes(member, pool):
    quotas.update_volume_quotas(project=member.project, limits={"gigabytes": 10, "snapshots": 1})
    volume = available_volume(member.client, size=2)
    _snapshot(member.client, volume["id"])
    second = member.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}},
                                format="json")  # fmt: skip
    assert "exceeded for quota 'snapshots'" in cinder_error(second, 413, "overLimit")
    grow = member.client.post(f"{API}/volumes/{volume['id']}/action",
                              {"os-extend": {"new_size": 9}}, format="json")  # fmt: skip
    assert "gigabytes quota" in cinder_error(grow, 413, "overLimit")
    quotas.update_volume_quotas(project=member.project, limits={"per_volume_gigabytes": 2})
    grow = member.client.post(f"{API}/volumes/{volume['id']}/action",
                              {"os-extend": {"new_size": 3}}, format="json")  # fmt: skip
    assert "VolumeSizeExceedsLimit" in cinder_error(grow, 413, "overLimit")
    assert VolumeSnapshot.objects.count() == 1


def test_availability_zones_and_extensions(member):
    zones = ok(member.client.get(f"{API}/os-availability-zone"))
    assert zones == {
        "availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]
    }
    assert ok(member.client.get(f"{API}/extensions")) == {"extensions": []}

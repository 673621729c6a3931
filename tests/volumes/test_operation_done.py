"""What a host's report of a storage operation does, through the conductor's task
(`conductor.volume_done`, called with the arguments a host sends): each outcome's status, and
a late or repeated report that finds the status moved on changes nothing."""

import pytest

from apps.volumes.models import Volume, VolumeSnapshot
from apps.volumes.states import transition
from tests.volumes.conftest import API, available_volume, create_volume, host_reports, ok

pytestmark = pytest.mark.django_db


def _status(volume_id):
    return Volume.objects.get(pk=volume_id).status


def test_create_ok_and_failed(member, pool):
    good = create_volume(member.client)
    host_reports(good["id"], "create")
    assert _status(good["id"]) == "available"
    bad = create_volume(member.client)
    host_reports(bad["id"], "create", ok=False, message="qemu-img: no space")
    volume = Volume.objects.get(pk=bad["id"])
    assert (volume.status, volume.error_reason) == ("error", "qemu-img: no space")
    # the API never shows the reason
    assert "qemu-img" not in member.client.get(f"{API}/volumes/{bad['id']}").content.decode()
    # a repeated report changes nothing
    host_reports(good["id"], "create", ok=False)
    assert _status(good["id"]) == "available"


def test_delete_ok_and_failed(member, pool):
    gone = available_volume(member.client)
    assert member.client.delete(f"{API}/volumes/{gone['id']}").status_code == 202
    host_reports(gone["id"], "delete")
    assert not Volume.objects.filter(pk=gone["id"]).exists()
    host_reports(gone["id"], "delete")  # again: nothing to do, no error
    kept = available_volume(member.client)
    member.client.delete(f"{API}/volumes/{kept['id']}")
    host_reports(kept["id"], "delete", ok=False)
    assert _status(kept["id"]) == "error_deleting"


def test_a_delete_report_for_a_volume_not_deleting_keeps_it(member, pool):
    volume = available_volume(member.client)
    host_reports(volume["id"], "delete")
    assert _status(volume["id"]) == "available"


def test_extend_ok_and_failed(member, pool):
    volume = available_volume(member.client, size=1)
    url = f"{API}/volumes/{volume['id']}/action"
    assert member.client.post(url, {"os-extend": {"new_size": 3}}, format="json").status_code == 202
    host_reports(volume["id"], "extend", ok=False)
    extended = Volume.objects.get(pk=volume["id"])
    assert (extended.status, extended.size, extended.extending_to) == ("error_extending", 1, None)
    # error_extending may be deleted (Cinder's rule)
    assert member.client.delete(f"{API}/volumes/{volume['id']}").status_code == 202
    other = available_volume(member.client, size=1)
    ok(member.client.post(f"{API}/volumes/{other['id']}/action", {"os-extend": {"new_size": 2}},
                          format="json"), 202)  # fmt: skip
    host_reports(other["id"], "extend")
    done = Volume.objects.get(pk=other["id"])
    assert (done.status, done.size, done.extending_to) == ("available", 2, None)


def test_snapshot_ok_failed_and_deletes(member, pool):
    volume = available_volume(member.client)

    def snapshot():
        return ok(member.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}},
                                     format="json"), 202)["snapshot"]["id"]  # fmt: skip

    good, bad = snapshot(), snapshot()
    host_reports(volume["id"], "snapshot", snapshot_id=good)
    host_reports(volume["id"], "snapshot", snapshot_id=bad, ok=False)
    assert VolumeSnapshot.objects.get(pk=good).status == "available"
    assert VolumeSnapshot.objects.get(pk=bad).status == "error"
    for snap in (good, bad):
        assert member.client.delete(f"{API}/snapshots/{snap}").status_code == 202
    host_reports(volume["id"], "delete_snapshot", snapshot_id=good)
    host_reports(volume["id"], "delete_snapshot", snapshot_id=bad, ok=False)
    assert not VolumeSnapshot.objects.filter(pk=good).exists()
    assert VolumeSnapshot.objects.get(pk=bad).status == "error_deleting"


def test_a_late_create_report_does_not_undo_a_delete(member, pool):
    volume = create_volume(member.client)
    assert transition(volume["id"], expected=["creating"], status="deleting")
    host_reports(volume["id"], "create")
    assert _status(volume["id"]) == "deleting"


def test_an_unknown_operation_is_logged_and_ignored(member, pool, caplog):
    volume = create_volume(member.client)
    host_reports(volume["id"], "defragment")
    assert _status(volume["id"]) == "creating"
    assert "unknown operation" in caplog.text

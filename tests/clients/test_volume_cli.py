"""The real openstack CLI against the block-storage API of a live server, found through the
catalog (``block-storage`` at ``…/volume/v3``) with version discovery: ``volume create``,
``list``, ``show``, ``set --name``, ``set --size``, ``delete``, ``volume type list``,
``volume snapshot create/list/delete``, ``quota show`` and ``limits show --absolute``.

No compute worker runs here: what the volume's host would report when it has made, grown or
removed a volume or a snapshot is sent through the conductor's task (`conductor.volume_done`)
with the arguments a host sends, between the commands.
"""

from typing import Any

import pytest

from apps.conductor import tasks as conductor_tasks
from apps.hosts.services import ensure_compute_service, record_heartbeat
from apps.volumes import pools as volume_pools
from apps.volumes.models import Volume, VolumeSnapshot
from tests.clients.cli import OpenStackCLIError, OpenStackEnv

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]

HOST = "cli-storage"


def _pool() -> None:
    ensure_compute_service(host=HOST)
    record_heartbeat(host=HOST)
    volume_pools.report_pool(
        host=HOST, storage={"backend": "file", "shared": False, "total_gb": 100, "free_gb": 100}
    )


def _host_done(operation: str, volume_id: Any, snapshot_id: Any = None) -> None:
    conductor_tasks.volume_done(
        host=HOST,
        operation=operation,
        volume_id=str(volume_id),
        snapshot_id=str(snapshot_id) if snapshot_id else None,
        request_id=None,
        ok=True,
        fault=None,
    )


def test_openstack_cli_volumes_snapshots_types_quotas(openstack_env: OpenStackEnv) -> None:
    run, text = openstack_env.openstack, openstack_env.openstack_text
    _pool()
    # create, show by name, list
    created = run("volume", "create", "--size", "1", "--property", "tier=gold", "data")
    assert (created["status"], created["size"], created["name"]) == ("creating", 1, "data")
    _host_done("create", created["id"])
    shown = run("volume", "show", "data")
    assert (shown["id"], shown["status"], shown["bootable"]) == (created["id"], "available", False)
    assert shown["type"] == "__DEFAULT__"
    assert shown["properties"] == {"tier": "gold"}
    run("volume", "create", "--size", "2", "other")
    _host_done("create", Volume.objects.get(name="other").pk)
    listed = run("volume", "list")
    assert [(v["Name"], v["Status"], v["Size"]) for v in listed] == [
        ("other", "available", 2),
        ("data", "available", 1),
    ]
    # paging one at a time (the marker), a filter by property
    assert [v["Name"] for v in run("volume", "list", "--limit", "1")] == ["other", "data"]
    assert [v["Name"] for v in run("volume", "list", "--property", "tier=gold")] == ["data"]
    assert [v["Name"] for v in run("volume", "list", "--long")] == ["other", "data"]
    # rename, grow
    text("volume", "set", "--name", "renamed", "data")
    text("volume", "set", "--size", "3", "renamed")
    assert run("volume", "show", "renamed")["status"] == "extending"
    _host_done("extend", created["id"])
    grown = run("volume", "show", "renamed")
    assert (grown["size"], grown["status"]) == (3, "available")
    with pytest.raises(OpenStackCLIError, match="New size"):
        text("volume", "set", "--size", "2", "renamed")
    # types
    types = run("volume", "type", "list")
    assert [t["Name"] for t in types] == ["__DEFAULT__"]
    # snapshots
    snap = run("volume", "snapshot", "create", "--volume", "renamed", "snap")
    assert (snap["status"], snap["size"]) == ("creating", 3)
    _host_done("snapshot", created["id"], snap["id"])
    snaps = run("volume", "snapshot", "list")
    assert [(s["Name"], s["Status"], s["Size"]) for s in snaps] == [("snap", "available", 3)]
    with pytest.raises(OpenStackCLIError, match="snapshots"):
        text("volume", "delete", "renamed")
    text("volume", "snapshot", "delete", "snap")
    _host_done("delete_snapshot", created["id"], snap["id"])
    assert not VolumeSnapshot.objects.exists()
    # quotas and limits
    quota = {row["Resource"]: row["Limit"] for row in run("quota", "show")}
    assert (quota["volumes"], quota["gigabytes"], quota["snapshots"]) == (10, 1000, 10)
    absolute = {row["Name"]: row["Value"] for row in run("limits", "show", "--absolute")}
    assert (absolute["total_volumes_used"], absolute["total_gigabytes_used"]) == (2, 5)
    assert (absolute["max_total_volumes"], absolute["max_total_volume_gigabytes"]) == (10, 1000)
    # delete
    text("volume", "delete", "renamed")
    assert Volume.objects.get(pk=created["id"]).status == "deleting"
    _host_done("delete", created["id"])
    with pytest.raises(OpenStackCLIError, match="No Volume found for renamed"):
        text("volume", "show", "renamed")
    assert [v["Name"] for v in run("volume", "list")] == ["other"]

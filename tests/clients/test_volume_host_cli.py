"""The real openstack CLI's volume commands against a live API server, a real conductor and
two compute workers whose storage agents keep file pools: every status change comes from a
host's report (``volume create`` blank and from an image, ``set --size``, ``snapshot
create/delete``, ``delete``), and the volume's file on the host follows."""

import uuid
from pathlib import Path
from typing import Any

import pytest

from apps.volumes.models import StoragePool, Volume
from tests.clients.cli import OpenStackEnv
from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures
from tests.harness import wait_until

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]

TIMEOUT = 90.0
GIB = 1024**3


def wait_status(env: OpenStackEnv, kind: str, name: str, status: str) -> dict[str, Any]:
    """``openstack <kind> show NAME`` once its status is `status` (``gone``: until not found)."""

    def reached() -> dict[str, Any] | None:
        if status == "gone":
            result = env.openstack_result(*kind.split(), "show", name)
            gone = result.returncode != 0 and "found for" in result.stderr
            return {"status": "gone"} if gone else None
        shown = env.openstack(*kind.split(), "show", name)
        assert shown["status"] not in ("error", "error_extending", "error_deleting"), shown
        return shown if shown["status"] == status else None

    return wait_until(reached, timeout=TIMEOUT, interval=0.5, what=f"{kind} {name} {status}")


def volume_file(running: Any, volume_id: str) -> Path:
    volume = Volume.objects.select_related("pool").get(pk=volume_id)
    return running.processes.workdir / volume.pool.host / "volumes" / f"volume-{volume_id}.qcow2"


def virtual_size(path: Path) -> int:
    import json
    import subprocess

    info = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(json.loads(info.stdout)["virtual-size"])


def test_cli_volume_lifecycle_on_real_hosts(cloud: Any, openstack_env: OpenStackEnv) -> None:  # noqa: F811
    env, run, text = openstack_env, openstack_env.openstack, openstack_env.openstack_text
    wait_until(
        lambda: StoragePool.objects.filter(host__in=cloud.processes.hosts).count() == 2,
        timeout=TIMEOUT, interval=0.5, what="both hosts' pools",
    )  # fmt: skip
    suffix = uuid.uuid4().hex[:6]
    name, boot = f"data-{suffix}", f"boot-{suffix}"
    # blank, then grown
    created = run("volume", "create", "--size", "1", name)
    wait_status(env, "volume", name, "available")
    path = volume_file(cloud, created["id"])
    assert virtual_size(path) == 1 * GIB
    text("volume", "set", "--size", "2", name)
    assert wait_status(env, "volume", name, "available")["size"] == 2
    assert virtual_size(path) == 2 * GIB
    # from an image: bootable, with the image's metadata
    run("volume", "create", "--image", "tiny", "--size", "1", boot)
    shown = wait_status(env, "volume", boot, "available")
    assert shown["bootable"] is True
    assert shown["volume_image_metadata"]["image_name"] == "tiny"
    # a snapshot, then the volume with its snapshot refused, then both deleted
    run("volume", "snapshot", "create", "--volume", name, f"snap-{suffix}")
    assert wait_status(env, "volume snapshot", f"snap-{suffix}", "available")["size"] == 2
    text("volume", "snapshot", "delete", f"snap-{suffix}")
    wait_status(env, "volume snapshot", f"snap-{suffix}", "gone")
    text("volume", "delete", name, boot)
    wait_status(env, "volume", name, "gone")
    wait_status(env, "volume", boot, "gone")
    assert not path.exists()
    assert run("volume", "list") == []
    # openstacksdk (volume 3.71): the cloud layer's create and delete wait on the statuses,
    # the proxy pages with markers
    conn = env.connection()
    made = [conn.create_volume(size=1, name=f"sdk-{i}", wait=True, timeout=TIMEOUT) for i in (1, 2)]
    assert [v.status for v in made] == ["available", "available"]
    paged = list(conn.block_storage.volumes(details=True, limit=1))
    assert [v.name for v in paged] == ["sdk-2", "sdk-1"]
    assert conn.block_storage.get_volume(made[0].id).is_bootable is False
    for volume in made:
        assert conn.delete_volume(volume.id, wait=True, timeout=TIMEOUT)
    assert list(conn.block_storage.volumes()) == []

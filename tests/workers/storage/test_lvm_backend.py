"""The LVM backend against the real lvm2 tools on a loop device of the test's own.

This machine's kernel has no device-mapper: a physical volume and a volume group can be
made on a loop device, but no logical volume. So what is tested here is what a host without
device-mapper sees: the start-up check refuses and says why, the reads of the group work,
deletes of what is not there succeed, and a create fails with lvm's own reason. The thin
volumes themselves need a kernel with device-mapper and dm-thin-pool.
"""

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.storage.agent import StorageAgent
from workers.storage.config import StorageConfig
from workers.storage.exceptions import (
    SnapshotNotFound,
    StorageError,
    StorageUnavailable,
    VolumeNotFound,
)
from workers.storage.lvm import LvmBackend


def lvm(*cmd: str) -> None:
    subprocess.run(list(cmd), check=True, capture_output=True, timeout=120)


@pytest.fixture
def volume_group(tmp_path: Path) -> Iterator[str]:
    """A volume group of its own on a 64 MiB loop device; the group, the physical volume and
    the loop device are removed at the end even when the test failed."""
    name = f"ccvolhost-{uuid.uuid4().hex[:8]}"
    backing = tmp_path / "pv.img"
    with backing.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    loop = subprocess.run(
        ["losetup", "-f", "--show", str(backing)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        lvm("pvcreate", "-q", loop)
        lvm("vgcreate", "-q", name, loop)
        yield name
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            lvm("vgremove", "-f", name)
        with contextlib.suppress(subprocess.CalledProcessError):
            lvm("pvremove", "-q", loop)
        subprocess.run(["losetup", "-d", loop], check=False)


def test_without_device_mapper_the_backend_refuses_to_start(volume_group: str):
    agent = StorageAgent(StorageConfig(backend="lvm", volume_group=volume_group))

    with pytest.raises(StorageUnavailable) as refused:
        agent.check()

    message = str(refused.value)
    assert "device-mapper" in message
    assert "no thin pool 'volumes-pool'" in message  # the group is there, its pool is not
    assert "does not exist" not in message


def test_a_missing_volume_group_is_named(volume_group: str):
    absent = f"{volume_group}-absent"

    with pytest.raises(StorageUnavailable) as refused:
        LvmBackend(absent, "pool").check()

    assert f"volume group '{absent}' (VOLUME_GROUP) does not exist" in str(refused.value)


def test_reads_and_deletes_of_what_is_not_there(volume_group: str):
    backend = LvmBackend(volume_group, "volumes-pool")
    volume_id, snapshot_id = str(uuid.uuid4()), str(uuid.uuid4())

    assert backend.volume_size(volume_id) is None
    assert not backend.snapshot_exists(snapshot_id)
    backend.delete(volume_id)  # nothing there: success (a redelivered delete)
    backend.delete_snapshot(snapshot_id)
    with pytest.raises(VolumeNotFound):
        backend.connection(volume_id)
    with pytest.raises(VolumeNotFound):
        backend.extend(volume_id, 2)
    with pytest.raises(VolumeNotFound):
        backend.create_snapshot(snapshot_id, volume_id)
    with pytest.raises(SnapshotNotFound):
        backend.create_from_snapshot(volume_id, 1, snapshot_id)
    with pytest.raises(StorageError, match="thin pool"):
        backend.capacity()


def test_a_create_fails_with_lvms_reason(volume_group: str):
    backend = LvmBackend(volume_group, "volumes-pool")
    volume_id = str(uuid.uuid4())

    with pytest.raises(StorageError, match="lvcreate") as failed:
        backend.create_blank(volume_id, 1)

    assert "device-mapper" in str(failed.value) or "thin" in str(failed.value)
    assert backend.volume_size(volume_id) is None

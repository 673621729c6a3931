"""The file backend and the storage agent over it, for real: qcow2 files written and read
back with qemu-img and qemu-io in a test's own directory."""

import subprocess
import uuid
from pathlib import Path

import pytest

from computecloud.wire import VolumeCreatePayload
from workers.storage.agent import StorageAgent
from workers.storage.commands import GiB, image_info, virtual_size
from workers.storage.config import StorageConfig, storage_config_from_env
from workers.storage.exceptions import (
    SnapshotNotFound,
    StorageError,
    StorageUnavailable,
    VolumeNotFound,
)
from workers.storage.file import FileBackend

PATTERN_OFFSET = 4096


def new_id() -> str:
    return str(uuid.uuid4())


def write(path: Path, pattern: int, fmt: str = "qcow2") -> None:
    """Write 64 KiB of `pattern` at PATTERN_OFFSET into the image, as a guest would."""
    subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"write -P {pattern:#x} {PATTERN_OFFSET} 64k", str(path)],
        check=True,
        capture_output=True,
    )


def holds(path: Path, pattern: int, fmt: str = "qcow2") -> bool:
    """Whether the image has `pattern` where `write` puts it (qemu-io's verifying read)."""
    done = subprocess.run(
        ["qemu-io", "-f", fmt, "-r", "-U", "-c", f"read -P {pattern:#x} {PATTERN_OFFSET} 64k",
         str(path)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert "can't open" not in done.stderr, done.stderr
    return done.returncode == 0 and "Pattern verification failed" not in done.stdout


@pytest.fixture
def agent(tmp_path: Path) -> StorageAgent:
    storage = StorageAgent(StorageConfig(backend="file", path=tmp_path / "volumes"))
    storage.check()
    return storage


@pytest.fixture
def backend(agent: StorageAgent) -> FileBackend:
    assert isinstance(agent.backend, FileBackend)
    return agent.backend


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A 64 MiB qcow2 image with a known pattern in it."""
    path = tmp_path / "image.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    write(path, 0xA5)
    return path


def create_payload(volume_id: str, size_gb: int = 1, **source: object) -> VolumeCreatePayload:
    payload: VolumeCreatePayload = {
        "volume_id": volume_id,
        "size_gb": size_gb,
        "backend": "file",
        "request_id": "req-test",
    }
    payload.update(source)  # type: ignore[typeddict-item]
    return payload


def test_a_blank_volume_is_a_thin_qcow2_of_its_size(agent: StorageAgent, backend: FileBackend):
    volume_id = new_id()

    agent.create(create_payload(volume_id, size_gb=1))

    path = backend.volume_path(volume_id)
    assert path.name == f"volume-{volume_id}.qcow2"
    info = image_info(path, fmt="qcow2")
    assert (info["format"], info["virtual-size"]) == ("qcow2", GiB)
    assert path.stat().st_size < 1024 * 1024  # thin: nothing written yet
    assert holds(path, 0x00)
    assert list(path.parent.glob(".*.part")) == []


def test_a_volume_from_an_image_holds_its_data_grown_to_its_size(
    agent: StorageAgent, backend: FileBackend, image: Path
):
    volume_id = new_id()

    agent.create(
        create_payload(volume_id, size_gb=1, image={"image_id": "img", "url": "x"}), image=image
    )

    path = backend.volume_path(volume_id)
    assert virtual_size(path, fmt="qcow2") == GiB
    assert image_info(path, fmt="qcow2").get("backing-filename") is None  # standalone
    assert holds(path, 0xA5)


def test_an_image_larger_than_the_volume_is_refused_and_leaves_nothing(
    agent: StorageAgent, backend: FileBackend, tmp_path: Path
):
    big = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(big), "2G"], check=True)
    volume_id = new_id()

    with pytest.raises(ValueError, match="more than"):
        agent.create(
            create_payload(volume_id, size_gb=1, image={"image_id": "i", "url": "x"}), image=big
        )

    assert backend.volume_size(volume_id) is None
    assert list(backend.path.iterdir()) == []


def test_a_snapshot_keeps_the_data_of_its_moment(agent: StorageAgent, backend: FileBackend):
    volume_id, snapshot_id, restored_id = new_id(), new_id(), new_id()
    agent.create(create_payload(volume_id, size_gb=1))
    write(backend.volume_path(volume_id), 0x11)

    agent.create_snapshot(snapshot_id, volume_id, "file")
    write(backend.volume_path(volume_id), 0x22)  # the guest writes on
    agent.create(create_payload(restored_id, size_gb=2, snapshot_id=snapshot_id))

    assert backend.snapshot_path(snapshot_id).name == f"snapshot-{snapshot_id}.qcow2"
    assert holds(backend.volume_path(restored_id), 0x11)
    assert virtual_size(backend.volume_path(restored_id), fmt="qcow2") == 2 * GiB
    assert holds(backend.volume_path(volume_id), 0x22)
    agent.create_snapshot(snapshot_id, volume_id, "file")  # redelivered: nothing new
    assert holds(backend.snapshot_path(snapshot_id), 0x11)


def test_a_volume_from_a_volume_is_a_copy(agent: StorageAgent, backend: FileBackend):
    source_id, clone_id = new_id(), new_id()
    agent.create(create_payload(source_id))
    write(backend.volume_path(source_id), 0x33)

    agent.create(create_payload(clone_id, source_volume_id=source_id))
    write(backend.volume_path(source_id), 0x44)

    assert holds(backend.volume_path(clone_id), 0x33)


def test_sources_that_are_not_there_are_named(agent: StorageAgent):
    missing = new_id()
    with pytest.raises(SnapshotNotFound, match=missing):
        agent.create(create_payload(new_id(), snapshot_id=missing))
    with pytest.raises(VolumeNotFound, match=missing):
        agent.create(create_payload(new_id(), source_volume_id=missing))
    with pytest.raises(VolumeNotFound, match=missing):
        agent.create_snapshot(new_id(), missing, "file")
    with pytest.raises(VolumeNotFound, match=missing):
        agent.extend(missing, "file", 2)


def test_extend_grows_the_volume_and_keeps_its_data(agent: StorageAgent, backend: FileBackend):
    volume_id = new_id()
    agent.create(create_payload(volume_id))
    write(backend.volume_path(volume_id), 0x55)

    agent.extend(volume_id, "file", 3)
    agent.extend(volume_id, "file", 3)  # redelivered

    assert virtual_size(backend.volume_path(volume_id), fmt="qcow2") == 3 * GiB
    assert holds(backend.volume_path(volume_id), 0x55)


def test_delete_is_idempotent_and_leaves_snapshots(agent: StorageAgent, backend: FileBackend):
    volume_id, snapshot_id = new_id(), new_id()
    agent.create(create_payload(volume_id))
    agent.create_snapshot(snapshot_id, volume_id, "file")

    agent.delete(volume_id, "file")
    agent.delete(volume_id, "file")  # redelivered

    assert not backend.volume_path(volume_id).exists()
    assert backend.snapshot_exists(snapshot_id)
    agent.delete_snapshot(snapshot_id, "file")
    agent.delete_snapshot(snapshot_id, "file")
    assert list(backend.path.iterdir()) == []


def test_a_redelivered_create_finds_the_volume_whole(agent: StorageAgent, backend: FileBackend):
    volume_id = new_id()
    agent.create(create_payload(volume_id))
    write(backend.volume_path(volume_id), 0x66)

    agent.create(create_payload(volume_id))  # the task again, after a worker died

    assert holds(backend.volume_path(volume_id), 0x66)  # not recreated


def test_what_an_interrupted_create_left_is_replaced(agent: StorageAgent, backend: FileBackend):
    volume_id = new_id()
    final = backend.volume_path(volume_id)
    leftover = final.with_name(f".{final.name}.part")
    leftover.write_bytes(b"half a volume")

    assert backend.volume_size(volume_id) is None  # a part is no volume
    agent.create(create_payload(volume_id))

    assert not leftover.exists()
    assert virtual_size(final, fmt="qcow2") == GiB


def test_the_pool_is_the_filesystem_and_connect_says_where(agent: StorageAgent, tmp_path: Path):
    volume_id = new_id()
    agent.create(create_payload(volume_id))

    pool = agent.pool()
    connected = agent.connect({"volume_id": volume_id, "backend": "file", "device_name": "vdb"})

    assert pool is not None
    assert (pool["backend"], pool["shared"]) == ("file", False)
    assert 0 <= pool["free_gb"] <= pool["total_gb"]
    assert pool["total_gb"] > 0
    assert connected == {
        "volume_id": volume_id,
        "backend": "file",
        "device_name": "vdb",
        "path": str(tmp_path / "volumes" / f"volume-{volume_id}.qcow2"),
        "source_type": "file",
        "disk_format": "qcow2",
    }


def test_another_backend_or_a_missing_volume_is_refused(agent: StorageAgent):
    volume_id = new_id()
    agent.create(create_payload(volume_id))
    with pytest.raises(StorageError, match="keeps file volumes, not lvm"):
        agent.connect({"volume_id": volume_id, "backend": "lvm"})
    with pytest.raises(VolumeNotFound):
        agent.connect({"volume_id": new_id(), "backend": "file"})


def test_ids_that_are_not_uuids_never_become_paths(agent: StorageAgent):
    for bad in ("../../etc/passwd", "a/b", "", "x" * 100):
        with pytest.raises(ValueError, match="is not a volume or snapshot id"):
            agent.create(create_payload(bad))


def test_a_host_without_volumes_reports_no_pool_and_refuses_them(tmp_path: Path):
    agent = StorageAgent(StorageConfig(backend="none", path=tmp_path))
    agent.check()

    assert agent.pool() is None
    with pytest.raises(StorageError, match="VOLUME_BACKEND=none"):
        agent.create(create_payload(new_id()))


def test_an_unusable_directory_is_refused_at_start(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    agent = StorageAgent(StorageConfig(backend="file", path=blocker / "volumes"))

    with pytest.raises(StorageUnavailable, match="VOLUME_PATH"):
        agent.check()


def test_settings_come_from_the_environment(tmp_path: Path):
    instances = tmp_path / "state" / "instances"

    default = storage_config_from_env({}, instances)
    chosen = storage_config_from_env(
        {
            "VOLUME_BACKEND": "LVM",
            "VOLUME_GROUP": "vg0",
            "VOLUME_THIN_POOL": "pool0",
            "VOLUME_SHARED": "true",
            "VOLUME_PATH": "/srv/volumes",
        },
        instances,
    )

    assert (default.backend, default.path, default.shared) == (
        "file",
        tmp_path / "state" / "volumes",
        False,
    )
    assert (chosen.backend, chosen.volume_group, chosen.thin_pool, chosen.shared) == (
        "lvm",
        "vg0",
        "pool0",
        True,
    )
    assert chosen.path == Path("/srv/volumes")
    with pytest.raises(ValueError, match="VOLUME_BACKEND"):
        storage_config_from_env({"VOLUME_BACKEND": "ceph"}, instances)

"""Volumes on a compute host, fast: the compute manager's volume tasks with a real storage
agent (qcow2 files), the libvirt driver on test:///default, and the messages the manager
publishes read back from its broker (in memory). test:///default cannot hot-plug; what it
says then is what a failed attach reports. Live attach and detach are in
tests/e2e/test_volumes_vm.py on real QEMU guests."""

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from computecloud import queues
from computecloud.messages import from_compute
from tests.workers.conftest import (
    ImageServer,
    ServedImage,
    has_pattern,
    make_config,
    running_driver,
    write_pattern,
)
from workers.compute.manager import ComputeManager
from workers.network.agent import NetworkAgent
from workers.storage.agent import StorageAgent
from workers.storage.commands import GiB, virtual_size
from workers.storage.config import StorageConfig
from workers.virt import exceptions
from workers.virt.driver import BlockDeviceSpec, InstanceSpec
from workers.virt.libvirt.config import GuestConfig
from workers.virt.libvirt.driver import LibvirtDriver


class Host:
    """A compute manager as a worker builds it, and what it told the conductor."""

    def __init__(self, manager: ComputeManager, driver: LibvirtDriver, storage: StorageAgent):
        self.manager, self.driver, self.storage = manager, driver, storage

    def published(self) -> list[tuple[str, dict[str, Any]]]:
        """The messages published since the last call: (task name, kwargs)."""
        found = []
        with self.manager.app.connection_for_read() as connection:
            queue = connection.SimpleQueue(queues.CONDUCTOR_QUEUE)
            while queue.qsize():
                message = queue.get(timeout=1)
                found.append((message.headers["task"], message.payload[1]))
                message.ack()
            queue.close()
        return found

    def volume_messages(self) -> list[tuple[str, dict[str, Any]]]:
        return [(t, k) for t, k in self.published() if t.startswith("conductor.volume_")]


@pytest.fixture
def host(tmp_path: Path, image_server: ImageServer) -> Iterator[Host]:
    config = make_config(tmp_path, control_plane_url=image_server.base_url)
    storage = StorageAgent(StorageConfig(backend="file", path=tmp_path / "volumes"))
    storage.check()
    app = Celery(f"volumes-{uuid.uuid4().hex[:6]}", broker="memory://")
    app.conf.update(queues.COMMON_CONFIG)
    with running_driver(config) as driver:
        manager = ComputeManager(config, driver, app, NetworkAgent(config.network), storage)
        yield Host(manager, driver, storage)


def create(volume_id: str, size_gb: int = 1, **source: Any) -> Any:
    return {
        "volume_id": volume_id,
        "size_gb": size_gb,
        "backend": "file",
        "request_id": "req-1",
        **source,
    }


def merged(base: Any, **changes: Any) -> Any:
    return {**base, **changes}


def done(volume_id: str, operation: str, snapshot_id: str | None = None) -> dict[str, Any]:
    return {
        "host": "host-a",
        "operation": operation,
        "volume_id": volume_id,
        "snapshot_id": snapshot_id,
        "request_id": "req-1",
        "ok": True,
        "fault": None,
    }


def volume_path(host: Host, volume_id: str) -> Path:
    return Path(host.storage.connection(volume_id).path)


# --- the pool's operations --------------------------------------------------------------------


def test_each_operation_reports_once_and_a_redelivery_is_success(host: Host):
    volume_id, snapshot_id = str(uuid.uuid4()), str(uuid.uuid4())
    snapshot: Any = {"snapshot_id": snapshot_id, "volume_id": volume_id, "backend": "file"}

    host.manager.create_volume(create(volume_id))
    host.manager.create_volume(create(volume_id))  # redelivered after a worker died
    host.manager.extend_volume(merged(create(volume_id, 2), server_uuid=None))
    host.manager.create_volume_snapshot(merged(snapshot, request_id="req-1"))
    host.manager.delete_volume_snapshot(merged(snapshot, request_id="req-1"))
    host.manager.delete_volume({"volume_id": volume_id, "backend": "file", "request_id": "req-1"})
    host.manager.delete_volume({"volume_id": volume_id, "backend": "file", "request_id": "req-1"})

    assert host.volume_messages() == [
        (from_compute.VOLUME_DONE, done(volume_id, "create")),
        (from_compute.VOLUME_DONE, done(volume_id, "create")),
        (from_compute.VOLUME_DONE, done(volume_id, "extend")),
        (from_compute.VOLUME_DONE, done(volume_id, "snapshot", snapshot_id)),
        (from_compute.VOLUME_DONE, done(volume_id, "delete_snapshot", snapshot_id)),
        (from_compute.VOLUME_DONE, done(volume_id, "delete")),
        (from_compute.VOLUME_DONE, done(volume_id, "delete")),
    ]
    assert list((host.storage.config.path).iterdir()) == []


def test_a_volume_from_an_image_is_written_from_the_image_cache(
    host: Host, served_image: ServedImage, image_server: ImageServer
):
    volume_id = str(uuid.uuid4())
    image = served_image.source().to_payload()

    host.manager.create_volume(create(volume_id, image=image))
    host.manager.create_volume(create(volume_id, image=image))  # redelivered: no new download

    assert [m[1]["ok"] for m in host.volume_messages()] == [True, True]
    assert virtual_size(volume_path(host, volume_id), fmt="qcow2") == GiB
    assert image_server.requests["/base.qcow2"] == 1


def test_a_failed_operation_reports_its_fault(host: Host):
    volume_id, missing = str(uuid.uuid4()), str(uuid.uuid4())

    host.manager.create_volume(create(volume_id, snapshot_id=missing))
    host.manager.extend_volume(merged(create(volume_id, 2), server_uuid=None))

    (create_task, created), (_, extended) = host.volume_messages()
    assert (create_task, created["operation"], created["ok"]) == (
        from_compute.VOLUME_DONE,
        "create",
        False,
    )
    assert f"snapshot {missing} is not in this host's pool" in created["fault"]["message"]
    assert (extended["operation"], extended["ok"]) == ("extend", False)
    assert f"volume {volume_id}" in extended["fault"]["message"]


def test_heartbeats_carry_the_pool(host: Host):
    host.manager.send_heartbeat()

    (beat,) = [k for t, k in host.published() if t == from_compute.COMPUTE_HEARTBEAT]
    assert beat["storage"]["backend"] == "file"
    assert beat["storage"]["shared"] is False
    assert beat["storage"]["total_gb"] >= beat["storage"]["free_gb"] >= 0


# --- guests -----------------------------------------------------------------------------------


def test_a_build_creates_its_volumes_and_boots_from_one(
    host: Host,
    make_instance: Callable[..., InstanceSpec],
    served_image: ServedImage,
    image_server: ImageServer,
):
    boot_id, data_id = str(uuid.uuid4()), str(uuid.uuid4())
    image = served_image.source()
    instance = make_instance(image_id=None, config_drive=False).to_payload()
    instance["block_devices"] = [
        {"volume_id": data_id, "backend": "file", "device_name": "vdc"},
        {"volume_id": boot_id, "backend": "file", "boot_index": 0, "device_name": "vda"},
    ]
    payload: Any = {
        "instance": instance,
        "image": None,
        "request_id": "req-1",
        "alternates": [],
        "volumes_to_create": [
            create(boot_id, image=image.to_payload()),
            create(data_id, 2),
        ],
    }

    host.manager.build_server(payload)

    published = host.published()
    assert [
        (t, k["volume_id"], k["ok"]) for t, k in published if t == from_compute.VOLUME_DONE
    ] == [
        (from_compute.VOLUME_DONE, boot_id, True),
        (from_compute.VOLUME_DONE, data_id, True),
    ]
    assert from_compute.BUILD_SERVER_DONE in [t for t, _ in published]
    guest = GuestConfig.from_xml(host.driver._lookup(instance["uuid"]).xml())
    assert [(d.target_dev, d.source_path, d.driver_format, d.serial) for d in guest.disks] == [
        ("vda", str(volume_path(host, boot_id)), "qcow2", boot_id[:20]),
        ("vdc", str(volume_path(host, data_id)), "qcow2", data_id[:20]),
    ]
    # The image was downloaded once, for the boot volume; the guest has no image disk.
    assert image_server.requests["/base.qcow2"] == 1
    instance_dir = Path(host.manager.config.instances_path) / instance["uuid"]
    assert not (instance_dir / "disk").exists()


def test_a_build_whose_volume_cannot_be_made_fails_with_it(
    host: Host, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
):
    volume_id = str(uuid.uuid4())
    instance = make_instance().to_payload()
    instance["block_devices"] = [{"volume_id": volume_id, "backend": "file", "boot_index": 0}]
    payload: Any = {
        "instance": instance,
        "image": served_image.source().to_payload(),
        "request_id": "req-1",
        "alternates": [],
        "volumes_to_create": [create(volume_id, snapshot_id=str(uuid.uuid4()))],
    }

    host.manager.build_server(payload)

    tasks = [(t, k.get("ok")) for t, k in host.published()]
    assert (from_compute.VOLUME_DONE, False) in tasks
    assert (from_compute.BUILD_SERVER_FAILED, None) in tasks
    assert not host.driver.instance_exists(instance["uuid"])


def test_a_guest_with_volumes_and_disks_of_its_own_names_them_all(
    host: Host, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
):
    named, unnamed = str(uuid.uuid4()), str(uuid.uuid4())
    for volume_id in (named, unnamed):
        host.storage.create(create(volume_id))
    volumes = [
        BlockDeviceSpec.from_payload(host.storage.connect({"volume_id": unnamed})),
        BlockDeviceSpec.from_payload(
            host.storage.connect({"volume_id": named, "device_name": "/dev/vdb"})
        ),
    ]
    instance = make_instance(ephemeral_gb=1, block_devices=volumes)

    host.driver.spawn(instance, served_image.source())

    guest = GuestConfig.from_xml(host.driver._lookup(instance.uuid).xml())
    by_dev = {d.target_dev: (Path(d.source_path).name, d.serial) for d in guest.disks}
    assert by_dev["vda"] == ("disk", None)
    assert by_dev["vdb"] == (f"volume-{named}.qcow2", named[:20])  # asked for: kept
    assert by_dev["vdc"] == ("disk.eph0", None)
    assert by_dev["vdd"] == (f"volume-{unnamed}.qcow2", unnamed[:20])
    assert by_dev["hdc"][0] == "disk.config"


def test_an_attach_the_hypervisor_refuses_is_reported_with_its_fault(
    host: Host, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
):
    volume_id = str(uuid.uuid4())
    host.storage.create(create(volume_id))
    instance = make_instance()
    host.driver.spawn(instance, served_image.source())

    host.manager.attach_volume(
        {
            "server_uuid": instance.uuid,
            "attachment_id": "att-1",
            "request_id": "req-1",
            "block_device": {"volume_id": volume_id, "backend": "file", "device_name": None},
        }
    )

    ((task, message),) = host.volume_messages()
    assert (task, message["ok"], message["device"]) == (from_compute.VOLUME_ATTACHED, False, None)
    assert (message["volume_id"], message["attachment_id"]) == (volume_id, "att-1")
    assert "could not be attached" in message["fault"]["message"]


def test_detaching_what_the_guest_does_not_have_is_done(
    host: Host, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
):
    instance = make_instance()
    host.driver.spawn(instance, served_image.source())
    volume_id = str(uuid.uuid4())

    for server_uuid in (instance.uuid, str(uuid.uuid4())):  # its guest, and one not here
        host.manager.detach_volume(
            {
                "server_uuid": server_uuid,
                "volume_id": volume_id,
                "attachment_id": "att-1",
                "device_name": "vdb",
                "request_id": "req-1",
            }
        )

    assert [(t, k["ok"], k["fault"]) for t, k in host.volume_messages()] == [
        (from_compute.VOLUME_DETACHED, True, None),
        (from_compute.VOLUME_DETACHED, True, None),
    ]


def test_a_volume_outside_the_pool_fails_the_attach_before_the_hypervisor(host: Host):
    host.manager.attach_volume(
        {
            "server_uuid": str(uuid.uuid4()),
            "attachment_id": "att-2",
            "request_id": "req-2",
            "block_device": {"volume_id": str(uuid.uuid4()), "backend": "file"},
        }
    )

    ((_, message),) = host.volume_messages()
    assert message["ok"] is False
    assert "is not in this host's pool" in message["fault"]["message"]


def test_a_guest_booted_from_a_volume_resizes_and_reverts_with_it(
    host: Host,
    tmp_path: Path,
    image_server: ImageServer,
    make_instance: Callable[..., InstanceSpec],
    served_image: ServedImage,
):
    boot_id = str(uuid.uuid4())
    host.storage.create(create(boot_id, image=served_image.source().to_payload()),
                        image=host.driver.fetch_image(served_image.source()))  # fmt: skip
    root = BlockDeviceSpec.from_payload(
        host.storage.connect({"volume_id": boot_id, "backend": "file", "boot_index": 0})
    )
    instance = make_instance(image_id=None, ephemeral_gb=1, block_devices=[root])
    host.driver.spawn(instance, None)
    write_pattern(
        host.driver.config.instances_path / instance.uuid / "disk.eph0", 0x3C, offset=0, length=4096
    )
    other = make_config(tmp_path, "host-b", control_plane_url=image_server.base_url)

    with running_driver(other) as host_b:
        transfer = host.driver.migrate_disk_and_power_off(instance.uuid, timeout=0)
        bigger = dataclasses.replace(instance, memory_mb=512, root_gb=5)
        host_b.finish_migration(bigger, transfer, None, power_on=True)

        moved = host_b.config.instances_path / instance.uuid
        disks = GuestConfig.from_xml(host_b._lookup(instance.uuid).xml()).disks
        assert [(d.target_dev, d.source_path) for d in disks if d.device == "disk"] == [
            ("vda", root.path),
            ("vdb", str(moved / "disk.eph0")),
        ]
        assert not (moved / "disk").exists()
        assert has_pattern(moved / "disk.eph0", 0x3C, offset=0, length=4096)

        host_b.destroy(instance.uuid)
        host.driver.finish_revert_migration(instance, power_on=True)

    back = GuestConfig.from_xml(host.driver._lookup(instance.uuid).xml())
    assert (back.memory_mb, back.disks[0].source_path) == (256, root.path)
    with pytest.raises(exceptions.SnapshotFailed, match="boots from a volume"):
        host.driver.snapshot(instance.uuid, tmp_path / "snap.qcow2")

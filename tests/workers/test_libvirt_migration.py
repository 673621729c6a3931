"""Resize and cold migration between two hosts that share no files: two drivers with their
own instances and image-cache directories on test:///default (one hypervisor in memory, so
the guest "moves" by being undefined on one side and defined on the other)."""

import dataclasses
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.workers.conftest import (
    ImageServer,
    ServedImage,
    has_pattern,
    make_config,
    qemu_img_info,
    running_driver,
    write_pattern,
)
from tests.workers.test_libvirt_config import node
from workers.virt import exceptions
from workers.virt.driver import ImageSource, InstanceSpec, PowerState
from workers.virt.libvirt.driver import LibvirtDriver

GiB = 1024**3
GUEST_DATA = 0xC7  # what "the guest" wrote at 8 MiB of its root disk


@pytest.fixture
def host_b(tmp_path: Path, image_server: ImageServer) -> Iterator[LibvirtDriver]:
    config = make_config(tmp_path, "host-b", control_plane_url=image_server.base_url)
    with running_driver(config) as drv:
        yield drv


@pytest.fixture
def image(served_image: ServedImage) -> ImageSource:
    return served_image.source()


@pytest.fixture
def instance(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], image: ImageSource
) -> InstanceSpec:
    """A running guest on host A (the `driver`) that wrote to its root and ephemeral disks."""
    spec = make_instance(root_gb=1, ephemeral_gb=1, memory_mb=256, vcpus=1)
    driver.spawn(spec, image)
    inst_dir = driver.config.instances_path / spec.uuid
    write_pattern(inst_dir / "disk", GUEST_DATA, offset=8 * 1024**2, length=65536)
    write_pattern(inst_dir / "disk.eph0", 0x11, offset=0, length=65536)
    return spec


def bigger(instance: InstanceSpec) -> InstanceSpec:
    return dataclasses.replace(instance, memory_mb=512, vcpus=2, root_gb=2, flavor_name="m1.big")


def domain_xml(drv: LibvirtDriver, instance_uuid: str) -> ET.Element:
    return ET.fromstring(drv.host.lookup(instance_uuid).xml())  # noqa: S314 -- libvirt's


def test_migrate_disk_and_power_off_hands_over_a_tar_of_flattened_disks(
    driver: LibvirtDriver, instance: InstanceSpec
) -> None:
    # when
    transfer = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)

    # then: a tar (root + ephemeral disk) next to the flattened disks and their manifest
    resize_dir = driver.config.instances_path / f"{instance.uuid}_resize"
    outbox = resize_dir / "outbox"
    assert transfer == outbox / "disks.tar"
    with tarfile.open(transfer) as tar:
        assert sorted(tar.getnames()) == ["disk", "disk.eph0", "manifest.json"]
    assert not (driver.config.instances_path / instance.uuid).exists()
    assert not driver.instance_exists(instance.uuid)
    manifest = json.loads((outbox / "manifest.json").read_text())
    assert manifest["instance_uuid"] == instance.uuid
    assert set(manifest["files"]) == {"disk", "disk.eph0"}
    flat = qemu_img_info(outbox / "disk")
    assert "backing-filename" not in flat
    assert has_pattern(outbox / "disk", 0x5A, offset=0, length=1024**2)  # from the base
    assert has_pattern(outbox / "disk", GUEST_DATA, offset=8 * 1024**2, length=65536)
    assert (resize_dir / "disk").is_file()  # the source copy, kept for a revert


def test_a_guest_with_only_a_root_disk_hands_over_one_standalone_qcow2(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], image: ImageSource
) -> None:
    # given
    spec = make_instance(ephemeral_gb=0)
    driver.spawn(spec, image)

    # when
    transfer = driver.migrate_disk_and_power_off(spec.uuid, timeout=5)

    # then
    assert transfer.name == "disk"
    info = qemu_img_info(transfer)
    assert info["format"] == "qcow2"
    assert "backing-filename" not in info


def test_migrate_disk_and_power_off_is_idempotent(
    driver: LibvirtDriver, instance: InstanceSpec
) -> None:
    # given
    first = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)

    # when
    second = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)

    # then
    assert second == first


def test_resize_to_another_host_by_path_then_confirm(
    driver: LibvirtDriver, host_b: LibvirtDriver, instance: InstanceSpec, image: ImageSource
) -> None:
    # given
    transfer = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)
    resized = bigger(instance)

    # when
    host_b.finish_migration(resized, transfer, image, power_on=True)

    # then: the new flavor, the guest's data, the base shared from B's own cache
    assert host_b.get_power_state(instance.uuid) == PowerState.RUNNING
    root = domain_xml(host_b, instance.uuid)
    assert node(root, "memory").text == str(512 * 1024)
    assert root.findtext("vcpu") == "2"
    disk = host_b.config.instances_path / instance.uuid / "disk"
    info = qemu_img_info(disk)
    assert info["virtual-size"] == 2 * GiB
    assert info["full-backing-filename"] == str(host_b.image_cache.base_path(image))
    assert has_pattern(disk, GUEST_DATA, offset=8 * 1024**2, length=65536)
    assert has_pattern(disk, 0x5A, offset=0, length=1024**2)
    assert has_pattern(disk.parent / "disk.eph0", 0x11, offset=0, length=65536)
    assert (disk.parent / "disk.config").is_file()

    # when
    driver.confirm_migration(instance.uuid)
    driver.confirm_migration(instance.uuid)

    # then
    assert not (driver.config.instances_path / f"{instance.uuid}_resize").exists()
    assert host_b.get_power_state(instance.uuid) == PowerState.RUNNING


def test_resize_over_http_without_image_gives_a_standalone_disk(
    driver: LibvirtDriver,
    host_b: LibvirtDriver,
    instance: InstanceSpec,
    image_server: ImageServer,
) -> None:
    # given: host A's handed-over file served over HTTP by the control plane
    transfer = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)
    url = image_server.serve(transfer, as_name="handed-over").url

    # when
    host_b.finish_migration(bigger(instance), url, None, power_on=False)

    # then
    disk = host_b.config.instances_path / instance.uuid / "disk"
    assert host_b.get_power_state(instance.uuid) == PowerState.SHUTDOWN
    assert "backing-filename" not in qemu_img_info(disk)
    assert has_pattern(disk, GUEST_DATA, offset=8 * 1024**2, length=65536)
    assert has_pattern(disk.parent / "disk.eph0", 0x11, offset=0, length=65536)


@pytest.mark.parametrize("ephemeral_gb", [0, 1])
def test_resize_through_a_transfer_image(
    driver: LibvirtDriver,
    host_b: LibvirtDriver,
    make_instance: Callable[..., InstanceSpec],
    image: ImageSource,
    image_server: ImageServer,
    ephemeral_gb: int,
) -> None:
    # given: the handed-over file uploaded as an image (served with its checksums): a
    # qcow2/bare image for a root disk alone, an ova (tar) with the ephemeral disk
    spec = make_instance(ephemeral_gb=ephemeral_gb)
    driver.spawn(spec, image)
    write_pattern(
        driver.config.instances_path / spec.uuid / "disk",
        GUEST_DATA,
        offset=8 * 1024**2,
        length=65536,
    )
    transfer_file = driver.migrate_disk_and_power_off(spec.uuid, timeout=5)
    container = "ova" if ephemeral_gb else "bare"
    transfer = image_server.serve(transfer_file, as_name="transfer").source(
        container_format=container
    )

    # when
    host_b.finish_migration(bigger(spec), transfer, image, power_on=True)

    # then
    disk = host_b.config.instances_path / spec.uuid / "disk"
    assert host_b.get_power_state(spec.uuid) == PowerState.RUNNING
    assert has_pattern(disk, GUEST_DATA, offset=8 * 1024**2, length=65536)
    assert (disk.parent / "disk.eph0").is_file() == bool(ephemeral_gb)


def test_a_transfer_image_that_fails_its_checksum_is_refused(
    driver: LibvirtDriver,
    host_b: LibvirtDriver,
    instance: InstanceSpec,
    image: ImageSource,
    image_server: ImageServer,
) -> None:
    # given
    transfer_file = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)
    transfer = image_server.serve(transfer_file, as_name="transfer").source(
        container_format="ova", checksum="0" * 32
    )

    # when
    with pytest.raises(exceptions.MigrationFailed, match="md5"):
        host_b.finish_migration(bigger(instance), transfer, image)

    # then
    assert not (host_b.config.instances_path / instance.uuid).exists()


def test_a_damaged_transfer_fails_and_leaves_nothing_on_the_destination(
    driver: LibvirtDriver, host_b: LibvirtDriver, instance: InstanceSpec, image: ImageSource
) -> None:
    # given: the disk changed after the manifest was written
    outbox = driver.migrate_disk_and_power_off(instance.uuid, timeout=5).parent
    write_pattern(outbox / "disk", 0x00, offset=0, length=4096)

    # when
    with pytest.raises(exceptions.MigrationFailed, match="damaged"):
        host_b.finish_migration(bigger(instance), outbox, image)

    # then
    assert not host_b.instance_exists(instance.uuid)
    assert not (host_b.config.instances_path / instance.uuid).exists()
    assert (outbox.parent / "disk").is_file()


def test_shrinking_the_root_disk_is_refused(
    driver: LibvirtDriver,
    host_b: LibvirtDriver,
    make_instance: Callable[..., InstanceSpec],
    image: ImageSource,
) -> None:
    # given: a guest with a 2 GiB root disk, resized to a 1 GiB flavor
    spec = make_instance(root_gb=2)
    driver.spawn(spec, image)
    transfer = driver.migrate_disk_and_power_off(spec.uuid, timeout=5)

    # when
    with pytest.raises(exceptions.MigrationFailed, match="shrinking"):
        host_b.finish_migration(dataclasses.replace(spec, root_gb=1), transfer, image)

    # then
    assert not host_b.instance_exists(spec.uuid)
    assert not (host_b.config.instances_path / spec.uuid).exists()
    assert transfer.is_file()


def test_revert_brings_the_guest_back_on_the_source_with_its_old_flavor(
    driver: LibvirtDriver, host_b: LibvirtDriver, instance: InstanceSpec, image: ImageSource
) -> None:
    # given: migrated and finished on B, then B's copy destroyed (the revert's first step)
    transfer = driver.migrate_disk_and_power_off(instance.uuid, timeout=5)
    host_b.finish_migration(bigger(instance), transfer, image)
    host_b.destroy(instance.uuid)

    # when
    driver.finish_revert_migration(instance, power_on=True)

    # then
    inst_dir = driver.config.instances_path / instance.uuid
    assert driver.get_power_state(instance.uuid) == PowerState.RUNNING
    assert node(domain_xml(driver, instance.uuid), "memory").text == str(256 * 1024)
    assert has_pattern(inst_dir / "disk", GUEST_DATA, offset=8 * 1024**2, length=65536)
    assert not (driver.config.instances_path / f"{instance.uuid}_resize").exists()
    assert not (inst_dir / "outbox").exists()


def test_revert_without_a_source_copy_fails(driver: LibvirtDriver, instance: InstanceSpec) -> None:
    # given: a stray revert for a guest that never migrated is a no-op only when it is here
    driver.destroy(instance.uuid)

    # when / then
    with pytest.raises(exceptions.MigrationFailed, match="no source copy"):
        driver.finish_revert_migration(instance)


def test_resize_on_the_same_host(
    driver: LibvirtDriver, instance: InstanceSpec, image: ImageSource
) -> None:
    # given: the outbox directory itself is the source on the same host
    outbox = driver.migrate_disk_and_power_off(instance.uuid, timeout=5).parent

    # when
    driver.finish_migration(bigger(instance), outbox, image)
    driver.confirm_migration(instance.uuid)

    # then
    inst_dir = driver.config.instances_path / instance.uuid
    assert driver.get_power_state(instance.uuid) == PowerState.RUNNING
    assert domain_xml(driver, instance.uuid).findtext("vcpu") == "2"
    assert has_pattern(inst_dir / "disk", GUEST_DATA, offset=8 * 1024**2, length=65536)
    assert sorted(p.name for p in driver.config.instances_path.iterdir()) == [instance.uuid]


def test_a_transfer_tar_cannot_smuggle_links_or_paths(
    host_b: LibvirtDriver, make_instance: Callable[..., InstanceSpec], tmp_path: Path
) -> None:
    # given: a tar whose "disk" is a symbolic link to a host file, plus a path outside
    spec = make_instance()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "instance_uuid": spec.uuid,
                "files": {"disk": {"size": 1, "sha256": "0"}},
                "transfer": "disks.tar",
            }
        )
    )
    evil = tmp_path / "disks.tar"
    with tarfile.open(evil, "w") as tar:
        tar.add(manifest, arcname="manifest.json")
        link = tarfile.TarInfo("disk")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        tar.add(manifest, arcname="../../escaped.json")

    # when
    with pytest.raises(exceptions.MigrationFailed):
        host_b.finish_migration(spec, evil, None)

    # then
    assert not (host_b.config.instances_path / spec.uuid).exists()
    assert not (host_b.config.instances_path.parent / "escaped.json").exists()

"""Domain XML: what config.py renders, and what the driver decides from an InstanceSpec
(read back from the domain libvirt defined, on test:///default)."""

from collections.abc import Callable
from xml.etree import ElementTree as ET

import pytest

from tests.workers.conftest import ServedImage
from workers.virt import exceptions
from workers.virt.driver import BlockDeviceSpec, InstanceSpec, VifSpec
from workers.virt.libvirt.config import (
    METADATA_NS,
    GuestConfig,
    GuestDisk,
    GuestGraphics,
    GuestInterface,
    GuestMetadata,
    GuestSerial,
)
from workers.virt.libvirt.driver import LibvirtDriver


def node(root: ET.Element, path: str) -> ET.Element:
    """``root.find(path)``, failing the test if it is missing."""
    found = root.find(path)
    assert found is not None, f"{path} is missing"
    return found


def test_guest_config_round_trips_through_xml() -> None:
    # given
    config = GuestConfig(
        name="instance-0b7c5e1a-9f8e-4c43-9a43-0c1c34a4c3d1",
        uuid="0b7c5e1a-9f8e-4c43-9a43-0c1c34a4c3d1",
        virt_type="qemu",
        memory_mb=512,
        vcpus=2,
        machine_type="pc",
        disks=[
            GuestDisk(source_path="/i/disk", target_dev="vda"),
            GuestDisk(
                source_path="/i/disk.config",
                target_dev="hdc",
                target_bus="ide",
                device="cdrom",
                driver_format="raw",
                read_only=True,
            ),
        ],
        interfaces=[GuestInterface(mac="52:54:00:12:34:56", bridge="br-x", mtu=1450)],
        serial=GuestSerial(log_path="/i/console.log"),
        graphics=GuestGraphics(listen="127.0.0.1"),
        video_model="vga",
        metadata=GuestMetadata(instance_name="web-1", flavor_name="m1.small", memory_mb=512),
    )

    # when
    parsed = GuestConfig.from_xml(config.to_xml())

    # then
    assert parsed == config


def test_rendered_xml_has_the_shape_known_to_boot_here() -> None:
    # given
    config = GuestConfig(
        name="instance-x",
        uuid="0b7c5e1a-9f8e-4c43-9a43-0c1c34a4c3d1",
        virt_type="qemu",
        memory_mb=256,
        vcpus=1,
        serial=GuestSerial(log_path="/i/console.log"),
        graphics=GuestGraphics(listen="127.0.0.1"),
        metadata=GuestMetadata(instance_name="web-1", project_id="p1"),
    )

    # when
    root = ET.fromstring(config.to_xml())  # noqa: S314 -- our own XML

    # then
    assert root.get("type") == "qemu"
    assert node(root, "./os/type").attrib == {"arch": "x86_64", "machine": "pc"}
    assert root.find("./features/acpi") is not None
    assert node(root, "./devices/serial/source").attrib == {
        "path": "/i/console.log",
        "append": "on",
    }
    assert node(root, "./devices/console/target").get("type") == "serial"
    assert node(root, "./devices/graphics").attrib == {
        "type": "vnc",
        "autoport": "yes",
        "listen": "127.0.0.1",
    }
    owner = node(root, f"./metadata/{{{METADATA_NS}}}instance/{{{METADATA_NS}}}owner")
    assert owner.get("project_id") == "p1"


def _domain(driver: LibvirtDriver, instance: InstanceSpec) -> ET.Element:
    return ET.fromstring(driver.host.lookup(instance.uuid).xml())  # noqa: S314 -- libvirt's


def test_spawned_domain_matches_the_instance_spec(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    instance = make_instance(memory_mb=384, vcpus=2, ephemeral_gb=1, swap_mb=64)

    # when
    driver.spawn(instance, served_image.source())

    # then
    root = _domain(driver, instance)
    inst_dir = driver.config.instances_path / instance.uuid
    assert root.findtext("name") == f"instance-{instance.uuid}"
    assert root.findtext("uuid") == instance.uuid
    assert GuestConfig.from_xml(ET.tostring(root, encoding="unicode")).memory_mb == 384
    assert root.findtext("vcpu") == "2"
    disks = {
        node(d, "target").get("dev"): (
            d.get("device"),
            node(d, "target").get("bus"),
            node(d, "source").get("file"),
            d.find("readonly") is not None,
        )
        for d in root.iterfind("./devices/disk")
    }
    assert disks == {
        "vda": ("disk", "virtio", str(inst_dir / "disk"), False),
        "vdb": ("disk", "virtio", str(inst_dir / "disk.eph0"), False),
        "vdc": ("disk", "virtio", str(inst_dir / "disk.swap"), False),
        "hdc": ("cdrom", "ide", str(inst_dir / "disk.config"), True),
    }
    assert node(root, "./devices/serial/source").get("path") == str(inst_dir / "console.log")
    metadata = GuestConfig.from_xml(ET.tostring(root, encoding="unicode")).metadata
    assert metadata is not None
    assert (metadata.instance_name, metadata.flavor_name, metadata.project_id) == (
        instance.name,
        "m1.tiny",
        instance.project_id,
    )


def test_image_properties_choose_buses_models_and_machine(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    properties = {
        "hw_disk_bus": "ide",
        "hw_vif_model": "e1000",
        "hw_video_model": "vga",
        "hw_machine_type": "pc-i440fx-7.2",
    }
    vif = VifSpec(id="port-1234567890", mac="52:54:00:aa:bb:cc", bridge="br-test")
    instance = make_instance(
        ephemeral_gb=1,
        image_meta={"disk_format": "qcow2", "properties": properties},
        network_info=[vif],
        block_devices=[
            BlockDeviceSpec(
                volume_id="vol-1", path="/dev/null", source_type="block", disk_bus="ide"
            )
        ],
    )

    # when
    driver.spawn(instance, served_image.source())

    # then
    root = _domain(driver, instance)
    targets = {
        node(d, "target").get("dev"): (
            node(d, "source").get("file") or node(d, "source").get("dev")
        )
        for d in root.iterfind("./devices/disk")
    }
    inst_dir = driver.config.instances_path / instance.uuid
    # The config drive keeps hdc, so the volume skips to hdd.
    assert targets == {
        "hda": str(inst_dir / "disk"),
        "hdb": str(inst_dir / "disk.eph0"),
        "hdc": str(inst_dir / "disk.config"),
        "hdd": "/dev/null",
    }
    assert node(root, "./os/type").get("machine") == "pc-i440fx-7.2"
    assert node(root, "./devices/video/model").get("type") == "vga"
    interface = node(root, "./devices/interface")
    assert interface.get("type") == "bridge"
    assert node(interface, "source").get("bridge") == "br-test"
    assert node(interface, "model").get("type") == "e1000"
    assert node(interface, "mac").get("address") == "52:54:00:aa:bb:cc"


@pytest.mark.parametrize(
    ("prop", "value"),
    [("hw_disk_bus", "floppy"), ("hw_vif_model", "vmxnet9"), ("hw_machine_type", "pc'/><x")],
)
def test_unsupported_image_property_fails_spawn_and_leaves_nothing(
    driver: LibvirtDriver,
    make_instance: Callable[..., InstanceSpec],
    served_image: ServedImage,
    prop: str,
    value: str,
) -> None:
    # given
    instance = make_instance(image_meta={"properties": {prop: value}})

    # when
    with pytest.raises(exceptions.UnsupportedHardware, match=prop):
        driver.spawn(instance, served_image.source())

    # then
    assert instance.uuid not in driver.list_instance_uuids()
    assert not (driver.config.instances_path / instance.uuid).exists()

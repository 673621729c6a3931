"""Config drives: what a guest finds on the ISO, read back with isoinfo (no mounting)."""

import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.workers.conftest import ServedImage
from workers.virt import exceptions
from workers.virt.driver import InstanceSpec, VifSpec
from workers.virt.libvirt.configdrive import build_config_drive
from workers.virt.libvirt.driver import LibvirtDriver

ANYWHERE = "0.0.0.0"  # noqa: S104 -- the default route's network and mask, not a bind address


def iso_read(iso: Path, path: str) -> bytes:
    return subprocess.run(
        ["isoinfo", "-i", str(iso), "-R", "-x", path], check=True, capture_output=True
    ).stdout


def iso_label(iso: Path) -> str:
    out = subprocess.run(
        ["isoinfo", "-d", "-i", str(iso)], check=True, capture_output=True, text=True
    ).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if "Volume id" in line)


def test_spawned_config_drive_carries_metadata_keys_and_user_data(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    script = b"#!/bin/sh\necho hello from user data\n"
    instance = make_instance(
        hostname="web-1",
        availability_zone="nova",
        launch_index=2,
        metadata={"role": "web"},
        public_keys={"mykey": "ssh-ed25519 AAAAC3Nza... me@example"},
        user_data=base64.b64encode(script).decode(),
    )

    # when
    driver.spawn(instance, served_image.source())

    # then
    iso = driver.config.instances_path / instance.uuid / "disk.config"
    assert iso_label(iso) == "config-2"
    meta = json.loads(iso_read(iso, "/openstack/latest/meta_data.json"))
    assert meta == {
        "uuid": instance.uuid,
        "name": instance.name,
        "hostname": "web-1",
        "launch_index": 2,
        "availability_zone": "nova",
        "project_id": instance.project_id,
        "public_keys": {"mykey": "ssh-ed25519 AAAAC3Nza... me@example"},
        "keys": [{"name": "mykey", "type": "ssh", "data": "ssh-ed25519 AAAAC3Nza... me@example"}],
        "meta": {"role": "web"},
        "devices": [],
    }
    assert iso_read(iso, "/openstack/latest/user_data") == script
    assert json.loads(iso_read(iso, "/openstack/latest/network_data.json")) == {
        "links": [],
        "networks": [],
        "services": [],
    }
    assert json.loads(iso_read(iso, "/openstack/latest/vendor_data.json")) == {}
    assert json.loads(iso_read(iso, "/openstack/latest/vendor_data2.json")) == {}


def test_network_data_describes_fixed_ips_and_dhcp_ports(
    tmp_path: Path, make_instance: Callable[..., InstanceSpec]
) -> None:
    # given
    fixed = VifSpec(
        id="a1b2c3d4-0000-4000-8000-000000000001",
        mac="52:54:00:00:00:01",
        bridge="br-net1",
        network_id="net-1",
        ip_address="10.77.0.5",
        cidr="10.77.0.0/24",
        gateway="10.77.0.1",
        dns=["10.77.0.1"],
        mtu=1450,
    )
    dhcp = VifSpec(id="a1b2c3d4-0000-4000-8000-000000000002", mac="52:54:00:00:00:02", bridge="b")
    instance = make_instance()

    # when
    iso = build_config_drive(tmp_path / "disk.config", instance, [fixed, dhcp])

    # then
    data = json.loads(iso_read(iso, "/openstack/latest/network_data.json"))
    assert data["links"][0] == {
        "id": "tapa1b2c3d4-00",
        "type": "bridge",
        "ethernet_mac_address": "52:54:00:00:00:01",
        "mtu": 1450,
        "vif_id": fixed.id,
    }
    assert data["networks"][0] == {
        "id": "network0",
        "link": "tapa1b2c3d4-00",
        "network_id": "net-1",
        "type": "ipv4",
        "ip_address": "10.77.0.5",
        "netmask": "255.255.255.0",
        "routes": [{"network": ANYWHERE, "netmask": ANYWHERE, "gateway": "10.77.0.1"}],
        "services": [{"type": "dns", "address": "10.77.0.1"}],
    }
    assert data["networks"][1]["type"] == "ipv4_dhcp"
    assert data["services"] == [{"type": "dns", "address": "10.77.0.1"}]


def test_without_user_data_there_is_no_user_data_file(
    tmp_path: Path, make_instance: Callable[..., InstanceSpec]
) -> None:
    # when
    iso = build_config_drive(tmp_path / "disk.config", make_instance(user_data=None), [])

    # then
    listing = subprocess.run(
        ["isoinfo", "-i", str(iso), "-R", "-f"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "/openstack/latest/meta_data.json" in listing
    assert "/openstack/latest/user_data" not in listing


def test_invalid_base64_user_data_fails_the_build(
    tmp_path: Path, make_instance: Callable[..., InstanceSpec]
) -> None:
    with pytest.raises(exceptions.ConfigDriveFailed, match="base64"):
        build_config_drive(tmp_path / "disk.config", make_instance(user_data="%%%not"), [])
    assert not (tmp_path / "disk.config").exists()

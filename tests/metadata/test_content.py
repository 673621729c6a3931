"""The metadata service and the config drive say the same thing about an instance.

The config drive is written on the compute host by workers/virt/libvirt/configdrive.py from
the build payload's InstanceSpec; the service answers from apps/metadata/content.py with the
payload itself; both take the documents from computecloud.wire. These tests hold the two
equal: the files of a real ISO against the service's HTTP answers, byte for byte, and the two
paths into the documents against each other for inputs the service cannot show yet (VIFs).
"""

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.conductor.payloads import instance_payload
from apps.metadata import content
from apps.servers.models import Server
from tests.factories import ProjectFactory
from tests.metadata.conftest import KEY, USER_DATA, MetadataClient, fixed
from workers.virt.driver import InstanceSpec, VifSpec
from workers.virt.libvirt import configdrive

LATEST = "/openstack/latest/"


def iso_files(iso: Path) -> list[str]:
    listing = subprocess.run(
        ["isoinfo", "-i", str(iso), "-R", "-f"], check=True, capture_output=True, text=True
    ).stdout.split()
    return sorted(path.removeprefix(LATEST) for path in listing if path.startswith(LATEST))


def iso_read(iso: Path, path: str) -> bytes:
    return subprocess.run(
        ["isoinfo", "-i", str(iso), "-R", "-x", path], check=True, capture_output=True
    ).stdout


@pytest.mark.parametrize("with_extras", [True, False], ids=["keys-userdata-meta", "bare"])
def test_config_drive_files_equal_the_services_answers_byte_for_byte(
    tmp_path: Path,
    metadata: MetadataClient,
    make_instance: Callable[..., Server],
    with_extras: bool,
) -> None:
    # given
    extras: dict[str, Any] = (
        {
            "user_data": USER_DATA,
            "key_name": "mykey",
            "key_data": KEY,
            "metadata": {"role": "web", "ünïcode": "välue"},
            "launch_index": 1,
        }
        if with_extras
        else {"availability_zone": None}
    )
    server = make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"), **extras)
    spec = InstanceSpec.from_payload(instance_payload(server))
    iso = configdrive.build_config_drive(tmp_path / "disk.config", spec, spec.network_info)

    # when
    listed = metadata.get(LATEST, remote_addr="10.0.0.5").content.decode().split("\n")
    served = {name: metadata.get(LATEST + name, remote_addr="10.0.0.5").content for name in listed}

    # then
    assert sorted(listed) == iso_files(iso)
    assert served == {name: iso_read(iso, LATEST + name) for name in iso_files(iso)}


VIFS: list[dict[str, Any]] = [
    {
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "mac": "52:54:00:00:00:01",
        "bridge": "br-net1",
        "network_id": "net-1",
        "ip_address": "10.77.0.5",
        "cidr": "10.77.0.0/24",
        "gateway": "10.77.0.1",
        "dns": ["10.77.0.1", "192.0.2.53"],
        "mtu": 1450,
    },
    {
        "id": "a1b2c3d4-0000-4000-8000-000000000002",
        "mac": "52:54:00:00:00:02",
        "bridge": "br-net2",
        "network_id": "net-2",
        "ip_address": "fd00:77::5",
        "cidr": "fd00:77::/64",
        "gateway": None,
        "dns": ["10.77.0.1"],
    },
    {"id": "a1b2c3d4-0000-4000-8000-000000000003", "mac": "52:54:00:00:00:03", "bridge": "b"},
]


def test_network_data_builders_agree_on_fixed_ipv4_ipv6_and_dhcp_ports() -> None:
    # when
    ours = content.network_data(VIFS)
    drives = configdrive.network_data([VifSpec.from_payload(v) for v in VIFS])

    # then
    assert content.dump(ours) == content.dump(drives)
    assert [n["type"] for n in ours["networks"]] == ["ipv4", "ipv6", "ipv4_dhcp"]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"public_keys": {"b": "ssh-rsa BBB", "a": "ssh-ed25519 AAA"}},
        {"metadata": {"k": "v"}, "availability_zone": "az-2", "launch_index": 7},
        {"availability_zone": None, "user_data": None},
    ],
)
def test_meta_data_builders_agree(changes: dict[str, Any]) -> None:
    # given
    payload: dict[str, Any] = {
        "uuid": "5d8f3a57-6f2c-4e55-9a41-2b1d7d0e9c11",
        "name": "vm",
        "hostname": "vm",
        "memory_mb": 256,
        "vcpus": 1,
        "root_gb": 1,
        "project_id": "p-1",
        "network_info": VIFS,
        **changes,
    }

    # when
    ours = content.meta_data(payload)
    drives = configdrive.meta_data(InstanceSpec.from_payload(payload))

    # then
    assert content.dump(ours) == content.dump(drives)
    assert content.openstack_files(payload, "latest")["network_data.json"].body == (
        content.dump(configdrive.network_data(InstanceSpec.from_payload(payload).network_info))
    )

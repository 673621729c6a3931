"""The values that cross the driver boundary survive a JSON round trip (task payloads)."""

import json
import uuid
from pathlib import Path

import pytest

from workers.virt.driver import (
    BlockDeviceSpec,
    ImageSource,
    InstanceSpec,
    PowerState,
    SnapshotInfo,
    VifSpec,
)


def test_instance_spec_round_trips_through_json() -> None:
    # given
    instance = InstanceSpec(
        uuid=str(uuid.uuid4()),
        name="web 1",
        hostname="web-1",
        memory_mb=512,
        vcpus=2,
        root_gb=10,
        ephemeral_gb=1,
        swap_mb=128,
        flavor_name="m1.small",
        image_id=str(uuid.uuid4()),
        image_meta={"disk_format": "qcow2", "properties": {"hw_disk_bus": "virtio"}},
        metadata={"role": "web"},
        user_data="IyEvYmluL3NoCg==",
        public_keys={"k": "ssh-ed25519 AAAA"},
        config_drive=True,
        availability_zone="nova",
        project_id="p",
        user_id="u",
        launch_index=1,
        network_info=[VifSpec(id="port", mac="52:54:00:00:00:01", bridge="br", dns=["1.1.1.1"])],
        block_devices=[BlockDeviceSpec(volume_id="vol", path="/dev/sdz", source_type="block")],
    )

    # when
    again = InstanceSpec.from_payload(json.loads(json.dumps(instance.to_payload())))

    # then
    assert again == instance


def test_instance_payload_needs_only_the_core_fields_and_ignores_unknown_keys() -> None:
    # given: a payload from a newer control plane
    payload = {
        "uuid": "6C0B2B3E-1111-4C3E-9A1E-000000000000",
        "name": "n",
        "hostname": "n",
        "memory_mb": 64,
        "vcpus": 1,
        "root_gb": 0,
        "some_future_field": {"x": 1},
    }

    # when
    instance = InstanceSpec.from_payload(payload)

    # then
    assert instance.uuid == "6c0b2b3e-1111-4c3e-9a1e-000000000000"
    assert (instance.network_info, instance.block_devices, instance.user_data) == ([], [], None)


@pytest.mark.parametrize(
    "change",
    [{"uuid": "../../etc"}, {"memory_mb": 0}, {"root_gb": -1}],
)
def test_instance_spec_rejects_impossible_values(change: dict[str, object]) -> None:
    payload = {"uuid": str(uuid.uuid4()), "name": "n", "hostname": "n", "memory_mb": 64}
    payload |= {"vcpus": 1, "root_gb": 1, **change}
    with pytest.raises(ValueError):  # noqa: PT011 -- each case has its own message
        InstanceSpec.from_payload(payload)


def test_instance_payload_without_a_required_field_is_refused() -> None:
    with pytest.raises(KeyError, match="memory_mb"):
        InstanceSpec.from_payload({"uuid": str(uuid.uuid4()), "name": "n", "hostname": "n"})


def test_image_source_round_trips_through_json() -> None:
    # given
    image = ImageSource(
        image_id="i",
        url="http://127.0.0.1/x?token=t",
        checksum="0" * 32,
        os_hash_algo="sha512",
        os_hash_value="f" * 128,
        size=1,
        disk_format="raw",
    )

    # when / then
    assert ImageSource.from_payload(json.loads(json.dumps(image.to_payload()))) == image


def test_power_states_and_snapshot_info_serialise_as_plain_json() -> None:
    info = SnapshotInfo(
        path=Path("/x/snap.qcow2"),
        size=1,
        virtual_size=2,
        checksum="c",
        os_hash_algo="sha512",
        os_hash_value="h",
    )
    assert json.loads(json.dumps({"state": PowerState.SUSPENDED})) == {"state": 7}
    assert json.loads(json.dumps(info.to_payload()))["path"] == "/x/snap.qcow2"

"""block_device_mapping_v2 in a server create: Nova's checks (each refusal a 400 that creates
nothing) and what an accepted create records (the root volume taken for the server, ``image``
empty). The build itself, on a host that makes and plugs the volumes, is
tests/servers/test_volumes_cloud.py's and tests/e2e/test_volumes_vm.py's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.servers.models import BlockDeviceMapping, Server
from apps.volumes.models import StoragePool, Volume, VolumeAttachment, VolumeType

pytestmark = pytest.mark.django_db

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def volume_of(caller: Any, **fields: Any) -> Volume:
    pool, _ = StoragePool.objects.get_or_create(
        host="host-1", backend="file", defaults={"total_gb": 100, "free_gb": 100}
    )
    return Volume.objects.create(
        project=caller.project,
        user_id=str(caller.user.pk),
        size=1,
        status=fields.pop("status", "available"),
        bootable=fields.pop("bootable", True),
        volume_type=VolumeType.default(),
        pool=pool,
        **fields,
    )


def create(caller: Any, mappings: Any, *, image_ref: str = "", status: int = 202, **extra):
    body = {
        "server": {
            "name": "bfv",
            "flavorRef": "1",
            "imageRef": image_ref,
            "networks": "none",
            "block_device_mapping_v2": mappings,
            **extra,
        }
    }
    response = caller.client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == status, response.content[:600]
    return response.json()


def root(volume_id: Any, **fields: Any) -> dict[str, Any]:
    return {
        "uuid": str(volume_id),
        "source_type": "volume",
        "destination_type": "volume",
        "boot_index": 0,
        **fields,
    }


def test_booting_from_a_volume_takes_it_and_shows_no_image(member, image_id):
    volume = volume_of(member)

    server_id = create(member, [root(volume.pk, delete_on_termination=True)])["server"]["id"]

    server = Server.objects.get(uuid=server_id)
    assert (server.image_ref, server.root_gb) == ("", 0)
    [bdm] = BlockDeviceMapping.objects.filter(server=server)
    assert (bdm.volume_id, bdm.boot_index, bdm.device_name) == (volume.pk, 0, "/dev/vda")
    assert bdm.delete_on_termination is True
    volume.refresh_from_db()
    assert volume.status == "attaching"
    shown = member.client.get(f"/compute/v2.1/servers/{server_id}", **V).json()["server"]
    assert shown["image"] == ""
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": str(volume.pk), "delete_on_termination": True}
    ]


def test_the_sdks_string_boot_index_and_image_to_volume_with_a_size_are_taken(member, image_id):
    volume = volume_of(member)
    create(member, [root(volume.pk, boot_index="0")])
    made = create(
        member,
        [
            {
                "uuid": image_id,
                "source_type": "image",
                "destination_type": "volume",
                "boot_index": 0,
                "volume_size": "1",
                "delete_on_termination": False,
            }
        ],
    )
    server = Server.objects.get(uuid=made["server"]["id"])
    assert server.image_ref == ""
    assert server.image_meta["source_image_id"] == image_id
    assert server.block_device_mapping[0]["volume_size"] == 1


@pytest.mark.parametrize(
    "mapping",
    [
        {"uuid": "VOL", "source_type": "volume", "destination_type": "invalid", "boot_index": 0},
        {"uuid": "VOL", "source_type": "bogus", "boot_index": 0},
        {"source_type": "volume", "destination_type": "volume", "boot_index": 0},  # no uuid
        {"source_type": "blank", "uuid": "VOL", "destination_type": "volume", "volume_size": 1},
        {"uuid": "VOL", "source_type": "volume", "boot_index": "zero"},
        {"uuid": "VOL", "source_type": "volume", "boot_index": 0, "delete_on_termination": "?"},
        {"uuid": "VOL", "source_type": "volume", "boot_index": 0, "volume_size": 0},
        {"uuid": "VOL", "source_type": "volume", "boot_index": 0, "surprise": 1},
        {"uuid": "a b", "source_type": "volume", "boot_index": 0},
        {"uuid": "IMG", "source_type": "image", "destination_type": "volume", "boot_index": 0},
        {"source_type": "blank", "destination_type": "local", "boot_index": -1},
        {"uuid": "IMG", "source_type": "image", "destination_type": "local", "boot_index": 1},
    ],
)
def test_malformed_mappings_are_400s_and_create_nothing(member, image_id, mapping):
    volume = volume_of(member)
    names = {"VOL": str(volume.pk), "IMG": image_id}
    entry = {k: names.get(v, v) if isinstance(v, str) else v for k, v in mapping.items()}

    body = create(member, [entry], status=400)

    assert "badRequest" in body
    assert not Server.objects.exists()
    volume.refresh_from_db()
    assert volume.status == "available"
    assert not VolumeAttachment.objects.exists()


def test_a_non_bootable_root_volume_is_a_400(member, image_id):
    volume = volume_of(member, bootable=False)
    body = create(member, [root(volume.pk)], status=400)
    assert "is not bootable" in body["badRequest"]["message"]


def test_a_volume_in_use_unknown_or_another_projects_is_a_400(member, make_caller, image_id):
    busy = volume_of(member, status="in-use")
    theirs = volume_of(make_caller())
    for volume_id in (busy.pk, uuid.uuid4(), theirs.pk):
        create(member, [root(volume_id)], status=400)
    theirs.refresh_from_db()
    assert theirs.status == "available"
    assert not Server.objects.exists()


def test_boot_indexes_must_run_from_0_without_gaps(member, image_id):
    first, second = volume_of(member), volume_of(member)
    create(member, [root(first.pk), root(second.pk)], status=400)  # two 0s
    create(member, [root(first.pk, boot_index=1)], status=400)  # no 0
    create(member, [root(first.pk), root(second.pk, boot_index=2)], status=400)  # a gap


def test_several_servers_cannot_share_one_volume(member, image_id):
    volume = volume_of(member)
    create(member, [root(volume.pk)], status=400, min_count=2, max_count=2)


def test_both_mapping_syntaxes_together_are_a_400(member, image_id):
    volume = volume_of(member)
    create(
        member,
        [root(volume.pk)],
        status=400,
        block_device_mapping=[{"volume_id": str(volume.pk), "device_name": "vda"}],
    )


def test_the_tag_needs_2_42(member, image_id):
    volume = volume_of(member)
    body = {
        "server": {
            "name": "bfv",
            "flavorRef": "1",
            "block_device_mapping_v2": [root(volume.pk, tag="root")],
        }
    }
    response = member.client.post(
        "/compute/v2.1/servers", body, format="json", HTTP_OPENSTACK_API_VERSION="compute 2.32"
    )
    assert response.status_code == 400
    volume.refresh_from_db()
    assert volume.status == "available"

"""Volumes through the whole stack: the block-storage and compute APIs, the conductor, and
two compute workers on test:///default whose storage agents keep qcow2 files. What the API
says is checked against the files on the hosts (qemu-img), not against the messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.servers.models import Server
from apps.volumes.choices import DEFAULT_TYPE_NAME
from apps.volumes.models import StoragePool, VolumeType
from tests.cloud import Cloud, cloud, cloud_processes  # noqa: F401 - fixtures
from tests.harness import wait_until
from workers.storage.commands import GiB, virtual_size

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VOLUME = "/volume/v3"
V3 = {"HTTP_OPENSTACK_API_VERSION": "volume 3.71"}
COMPUTE = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def default_volume_type(transactional_db: None) -> None:
    """The default type its migration makes (a transactional test's flush removes it)."""
    VolumeType.objects.get_or_create(
        name=DEFAULT_TYPE_NAME, defaults={"description": "Default Volume Type"}
    )


def pools_reported(on: Cloud) -> None:
    def reported() -> bool:
        hosts = set(StoragePool.objects.values_list("host", flat=True))
        return set(on.processes.hosts) <= hosts

    wait_until(reported, timeout=TIMEOUT, interval=0.2, what="the hosts' pools")


def volume_file(on: Cloud, volume_id: str) -> Path | None:
    """The volume's qcow2 on whichever host has it, or None."""
    for host in on.processes.hosts:
        path = on.processes.workdir / host / "volumes" / f"volume-{volume_id}.qcow2"
        if path.is_file():
            return path
    return None


def waiter(client: Any) -> Callable[..., dict[str, Any]]:
    def wait(kind: str, item_id: str, statuses: set[str]) -> dict[str, Any]:
        singular = kind.rstrip("s")

        def reached() -> dict[str, Any] | None:
            response = client.get(f"{VOLUME}/{kind}/{item_id}", **V3)
            if response.status_code == 404:
                return {"status": "deleted"} if "deleted" in statuses else None
            body = response.json()[singular]
            return body if body["status"] in statuses else None

        return wait_until(reached, timeout=TIMEOUT, interval=0.2, what=f"{kind} {statuses}")

    return wait


def post(client: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = client.post(path, body, format="json", **headers)
    assert response.status_code in (200, 202), (response.status_code, response.content[:500])
    return response.json() if response.content else None


def test_volumes_are_made_grown_copied_and_removed_on_their_host(
    cloud: Cloud,  # noqa: F811
    member: Any,
) -> None:
    client = member.client
    wait = waiter(client)
    pools_reported(cloud)

    # create: the host writes a thin qcow2 of the size asked
    volume = post(client, f"{VOLUME}/volumes", {"volume": {"size": 1, "name": "data"}}, V3)
    volume = wait("volumes", volume["volume"]["id"], {"available", "error"})
    assert volume["status"] == "available", volume
    path = volume_file(cloud, volume["id"])
    assert path is not None
    assert virtual_size(path, fmt="qcow2") == GiB

    # extend
    post(client, f"{VOLUME}/volumes/{volume['id']}/action", {"os-extend": {"new_size": 2}}, V3)
    grown = wait("volumes", volume["id"], {"available", "error_extending"})
    assert (grown["status"], grown["size"]) == ("available", 2)
    assert virtual_size(path, fmt="qcow2") == 2 * GiB

    # a snapshot, and a volume from it on the same host
    snapshot = post(client, f"{VOLUME}/snapshots", {"snapshot": {"volume_id": volume["id"]}}, V3)[
        "snapshot"
    ]
    assert wait("snapshots", snapshot["id"], {"available", "error"})["status"] == "available"
    assert (path.parent / f"snapshot-{snapshot['id']}.qcow2").is_file()
    copy = post(
        client, f"{VOLUME}/volumes", {"volume": {"size": 3, "snapshot_id": snapshot["id"]}}, V3
    )["volume"]
    assert wait("volumes", copy["id"], {"available", "error"})["status"] == "available"
    copy_path = volume_file(cloud, copy["id"])
    assert copy_path is not None
    assert copy_path.parent == path.parent
    assert virtual_size(copy_path, fmt="qcow2") == 3 * GiB

    # delete: the files go
    for kind, item_id in (("volumes", copy["id"]), ("snapshots", snapshot["id"])):
        assert client.delete(f"{VOLUME}/{kind}/{item_id}", **V3).status_code == 202
        wait(kind, item_id, {"deleted"})
    assert client.delete(f"{VOLUME}/volumes/{volume['id']}", **V3).status_code == 202
    wait("volumes", volume["id"], {"deleted"})
    assert volume_file(cloud, volume["id"]) is None
    assert volume_file(cloud, copy["id"]) is None
    assert not (path.parent / f"snapshot-{snapshot['id']}.qcow2").exists()


def test_a_server_boots_from_a_volume_its_build_makes(
    cloud: Cloud,  # noqa: F811
    member: Any,
) -> None:
    client = member.client
    pools_reported(cloud)
    body = {
        "server": {
            "name": "bfv",
            "flavorRef": "1",
            "networks": "none",
            "block_device_mapping_v2": [
                {
                    "boot_index": 0,
                    "uuid": cloud.image_id,
                    "source_type": "image",
                    "destination_type": "volume",
                    "volume_size": 1,
                    "delete_on_termination": True,
                }
            ],
        }
    }

    server_id = post(client, "/compute/v2.1/servers", body, COMPUTE)["server"]["id"]
    server = cloud.wait_for_server(client, server_id, {"ACTIVE", "ERROR"})

    assert server["status"] == "ACTIVE", server.get("fault")
    (attached,) = server["os-extended-volumes:volumes_attached"]
    volume = client.get(f"{VOLUME}/volumes/{attached['id']}", **V3).json()["volume"]
    assert (volume["status"], volume["bootable"]) == ("in-use", "true")
    path = volume_file(cloud, attached["id"])
    assert path is not None
    assert virtual_size(path, fmt="qcow2") == GiB
    assert path.parent.parent.name == Server.objects.get(uuid=server_id).host

    response = client.delete(f"/compute/v2.1/servers/{server_id}", **COMPUTE)
    assert response.status_code == 204
    cloud.wait_for_server(client, server_id, {"DELETED"})
    waiter(client)("volumes", attached["id"], {"deleted"})
    assert volume_file(cloud, attached["id"]) is None

"""Volumes of a real guest through the whole stack: the compute and block-storage APIs, the
conductor, a compute worker on qemu:///system (TCG) whose storage agent keeps qcow2 files,
and a tinyos guest that prints every change of its disks (tests/e2e/test_volumes_vm.py's
script) on its console.

A server boots from a volume its build writes from the image, with a blank data volume;
the data volume is detached and attached again through os-volume_attachments while the
guest runs; deleting the server removes the boot volume and leaves the data volume.

Run it alone on the machine:
``flock /tmp/cc-vm.lock pytest -m vm tests/e2e/test_volumes_api_vm.py``.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.cloud import Cloud
from tests.e2e.test_volumes_vm import SECTORS_PER_GIB, WATCH_DISKS
from tests.harness import wait_until

pytestmark = [pytest.mark.vm, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPUTE = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
VOLUME = {"HTTP_OPENSTACK_API_VERSION": "volume 3.71"}
BOOT_TIMEOUT = 180.0
CHANGE_TIMEOUT = 60.0


def console(client: Any, server_id: str) -> str:
    response = client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        {"os-getConsoleOutput": {}},
        format="json",
        **COMPUTE,
    )
    return response.json().get("output", "") if response.status_code == 200 else ""


def wait_console(client: Any, server_id: str, pattern: str, timeout: float) -> None:
    wait_until(
        lambda: re.search(pattern, console(client, server_id), re.MULTILINE) is not None,
        timeout=timeout,
        interval=1.0,
        what=f"{pattern!r} on the console of {server_id}",
    )


def volume_status(client: Any, volume_id: str) -> str:
    response = client.get(f"/volume/v3/volumes/{volume_id}", **VOLUME)
    return "deleted" if response.status_code == 404 else response.json()["volume"]["status"]


def wait_volume(client: Any, volume_id: str, status: str) -> None:
    wait_until(
        lambda: volume_status(client, volume_id) == status,
        timeout=CHANGE_TIMEOUT,
        interval=0.5,
        what=f"volume {volume_id} {status}",
    )


def test_a_real_guest_boots_from_a_volume_and_its_data_volume_comes_and_goes(
    qemu_cloud: Cloud, member: Any
) -> None:
    client = member.client
    body = {
        "server": {
            "name": "vol-api-e2e",
            "flavorRef": "0",
            "networks": "none",
            "user_data": base64.b64encode(WATCH_DISKS.encode()).decode(),
            "block_device_mapping_v2": [
                {
                    "boot_index": 0,
                    "uuid": qemu_cloud.image_id,
                    "source_type": "image",
                    "destination_type": "volume",
                    "volume_size": 1,
                    "delete_on_termination": True,
                },
                {
                    "source_type": "blank",
                    "destination_type": "volume",
                    "volume_size": 1,
                    "delete_on_termination": False,
                },
            ],
        }
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **COMPUTE)
    assert response.status_code == 202, response.content
    server_id = response.json()["server"]["id"]
    server = qemu_cloud.wait_for_server(
        client, server_id, {"ACTIVE", "ERROR"}, timeout=BOOT_TIMEOUT
    )
    assert server["status"] == "ACTIVE", server.get("fault")
    attachments = client.get(
        f"/compute/v2.1/servers/{server_id}/os-volume_attachments", **COMPUTE
    ).json()["volumeAttachments"]
    by_device = {a["device"]: a["volumeId"] for a in attachments}
    boot_id, data_id = by_device["/dev/vda"], by_device["/dev/vdb"]
    # The guest booted from its volume and sees both, each with its serial.
    wait_console(
        client, server_id, rf"DISK\+ vda:{SECTORS_PER_GIB} {boot_id[:20]}\r?$", BOOT_TIMEOUT
    )
    wait_console(
        client, server_id, rf"DISK\+ vdb:{SECTORS_PER_GIB} {data_id[:20]}\r?$", CHANGE_TIMEOUT
    )
    assert volume_status(client, data_id) == "in-use"

    # detach while it runs: the guest lets go, the volume is available
    response = client.delete(
        f"/compute/v2.1/servers/{server_id}/os-volume_attachments/{data_id}", **COMPUTE
    )
    assert response.status_code == 202, response.content
    wait_volume(client, data_id, "available")
    wait_console(client, server_id, rf"DISK- vdb:{SECTORS_PER_GIB}\r?$", CHANGE_TIMEOUT)

    # attach again: hot-plugged, in use
    response = client.post(
        f"/compute/v2.1/servers/{server_id}/os-volume_attachments",
        {"volumeAttachment": {"volumeId": data_id}},
        format="json",
        **COMPUTE,
    )
    assert response.status_code == 200, response.content
    wait_volume(client, data_id, "in-use")
    output = console(client, server_id)
    assert output.count(f"{data_id[:20]}") >= 1
    wait_until(
        lambda: console(client, server_id).count(f" {data_id[:20]}") >= 2,
        timeout=CHANGE_TIMEOUT,
        interval=1.0,
        what="the data volume seen again by the guest",
    )

    # delete the server: the boot volume goes with it, the data volume stays
    assert client.delete(f"/compute/v2.1/servers/{server_id}", **COMPUTE).status_code == 204
    qemu_cloud.wait_for_server(client, server_id, {"DELETED"})
    wait_volume(client, boot_id, "deleted")
    wait_volume(client, data_id, "available")
    assert client.delete(f"/volume/v3/volumes/{data_id}", **VOLUME).status_code == 202
    wait_volume(client, data_id, "deleted")

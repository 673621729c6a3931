"""A server's volumes when things go wrong, through the whole control plane and two compute
workers on test:///default with file pools: what the user can act on afterwards.

test:///default cannot hot-plug a disk (libvirt's test driver has no attach), which makes it
the real host refusing an attach; the successful hot-plug is tests/e2e's, on real QEMU."""

from __future__ import annotations

import signal
import uuid
from typing import Any

import pytest
import redis
from django.conf import settings

from apps.quotas.models import ProjectQuota
from apps.servers.models import BlockDeviceMapping, InstanceActionEvent, InstanceFault, Server
from apps.volumes.models import StoragePool, Volume
from tests.cloud import Cloud, forget_hosts
from tests.harness import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

C = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
V3 = {"HTTP_OPENSTACK_API_VERSION": "volume 3.71"}
TIMEOUT = 60.0


def made(response: Any, status: int = 202) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:600])
    return response.json() if response.content else None


def volume_status(client: Any, volume_id: str) -> str:
    response = client.get(f"/volume/v3/volumes/{volume_id}", **V3)
    return "deleted" if response.status_code == 404 else response.json()["volume"]["status"]


def wait_volume(client: Any, volume_id: str, status: str) -> None:
    wait_until(
        lambda: volume_status(client, volume_id) == status,
        timeout=TIMEOUT,
        interval=0.2,
        what=f"volume {volume_id} {status}",
    )


def pools_reported(on: Cloud) -> None:
    wait_until(
        lambda: set(on.processes.hosts) <= set(StoragePool.objects.values_list("host", flat=True)),
        timeout=TIMEOUT,
        interval=0.2,
        what="the hosts' pools",
    )


def new_volume(on: Cloud, client: Any, **fields: Any) -> str:
    pools_reported(on)
    body = made(
        client.post("/volume/v3/volumes", {"volume": {"size": 1, **fields}}, format="json", **V3)
    )
    volume_id = body["volume"]["id"]
    wait_volume(client, volume_id, "available")
    return volume_id


def boot(client: Any, name: str, **server: Any) -> str:
    body = {"server": {"name": name, "flavorRef": "0", "networks": "none", **server}}
    return made(client.post("/compute/v2.1/servers", body, format="json", **C))["server"]["id"]


def test_an_attach_the_host_refuses_gives_the_volume_back(cloud: Cloud, admin: Any) -> None:
    # An admin's, so that the server can be placed on the host whose disk has the volume
    # (each test host keeps its volumes on its own disk).
    client = admin.client
    volume_id = new_volume(cloud, client)
    host = Volume.objects.get(pk=volume_id).pool.host
    server_id = boot(client, "refused", imageRef=cloud.image_id, availability_zone=f"nova:{host}")
    cloud.wait_for_server(client, server_id, {"ACTIVE"})

    made(
        client.post(
            f"/compute/v2.1/servers/{server_id}/os-volume_attachments",
            {"volumeAttachment": {"volumeId": volume_id}},
            format="json",
            **C,
        ),
        200,
    )

    wait_volume(client, volume_id, "available")
    event = wait_until(
        lambda: InstanceActionEvent.objects.filter(
            event="compute_attach_volume", result="Error"
        ).first(),
        timeout=TIMEOUT,
        interval=0.2,
        what="the attach's event closed",
    )
    assert event.details
    listed = made(client.get(f"/compute/v2.1/servers/{server_id}/os-volume_attachments", **C), 200)
    assert listed["volumeAttachments"] == []
    actions = made(client.get(f"/compute/v2.1/servers/{server_id}/os-instance-actions", **C), 200)
    assert "attach_volume" in [a["action"] for a in actions["instanceActions"]]


def test_a_server_booted_from_a_volume_leaves_it_available_when_deleted(
    cloud: Cloud, member: Any
) -> None:
    client = member.client
    volume_id = new_volume(cloud, client, imageRef=cloud.image_id)
    server_id = boot(
        client,
        "from-volume",
        imageRef="",
        block_device_mapping_v2=[
            {
                "uuid": volume_id,
                "source_type": "volume",
                "destination_type": "volume",
                "boot_index": 0,
            }
        ],
    )
    body = cloud.wait_for_server(client, server_id, {"ACTIVE"})
    assert body["image"] == ""
    assert volume_status(client, volume_id) == "in-use"

    made(client.delete(f"/compute/v2.1/servers/{server_id}", **C), 204)

    wait_volume(client, volume_id, "available")
    assert not BlockDeviceMapping.objects.filter(volume_id=volume_id).exists()


def test_a_build_over_the_volume_quota_ends_in_error_and_leaves_nothing(
    cloud: Cloud, member: Any
) -> None:
    client = member.client
    ProjectQuota.objects.create(project=member.project, resource="gigabytes", hard_limit=0)
    pools_reported(cloud)

    server_id = boot(
        client,
        "over-quota",
        imageRef="",
        block_device_mapping_v2=[
            {
                "uuid": cloud.image_id,
                "source_type": "image",
                "destination_type": "volume",
                "boot_index": 0,
                "volume_size": 1,
            }
        ],
    )

    body = cloud.wait_for_server(client, server_id, {"ERROR"})
    assert "quota" in body["fault"]["message"].lower()
    assert InstanceFault.objects.filter(server__uuid=server_id).exists()
    assert not Volume.objects.filter(project=member.project).exists()


def test_an_attach_lost_with_a_killed_worker_is_asked_again_when_it_restarts(
    cloud: Cloud, member: Any, admin: Any, django_db_blocker: Any
) -> None:
    client = member.client
    processes = cloud.processes
    host = processes.start_compute(f"cc-volkill-{uuid.uuid4().hex[:6]}")
    try:
        processes.wait_hosts_ready([host])
        volume_id = new_volume(cloud, client)
        # On this host's disk (it can attach only there): pools of equal room go to the
        # greatest host name, and "cc-volkill-" sorts after the module's "cc-test-" hosts.
        assert Volume.objects.get(pk=volume_id).pool.host == host
        body = {
            "server": {
                "name": "killed",
                "imageRef": cloud.image_id,
                "flavorRef": "0",
                "networks": "none",
                "availability_zone": f"nova:{host}",
            }
        }
        server_id = made(admin.client.post("/compute/v2.1/servers", body, format="json", **C))[
            "server"
        ]["id"]
        Server.objects.filter(uuid=server_id).update(project=member.project)
        cloud.wait_for_server(client, server_id, {"ACTIVE"})
        # given: the host's worker killed, and the attach it was sent lost with it (a message
        # a killed worker held comes back only after the broker's visibility timeout)
        processes.compute_worker(host).stop(signal.SIGKILL)
        made(
            client.post(
                f"/compute/v2.1/servers/{server_id}/os-volume_attachments",
                {"volumeAttachment": {"volumeId": volume_id}},
                format="json",
                **C,
            ),
            200,
        )
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        wait_until(
            lambda: broker.keys(f"compute.{host}*"), timeout=TIMEOUT, what="the attach queued"
        )
        broker.delete(*broker.keys(f"compute.{host}*"))
        assert volume_status(client, volume_id) == "attaching"

        # when: the worker starts again
        processes.workers.pop(f"compute-{host}")
        processes.hosts.remove(host)
        processes.start_compute(host)

        # then: the host is asked again and answers (test:///default refuses a hot-plug):
        # the volume is the user's again, not left attaching
        wait_volume(client, volume_id, "available")
    finally:
        worker = processes.workers.pop(f"compute-{host}", None)
        if worker is not None:
            worker.stop(signal.SIGKILL)
        if host in processes.hosts:
            processes.hosts.remove(host)
        with django_db_blocker.unblock():
            forget_hosts([host])

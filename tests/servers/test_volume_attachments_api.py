"""os-volume_attachments through the API and the conductor: the host's side is its reports
(`from_compute.VOLUME_ATTACHED` / `VOLUME_DETACHED`) handed to the conductor's tasks as the
broker would; what a host does with a real guest is tests/e2e/test_volumes_vm.py's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.conductor import tasks as conductor_tasks
from apps.servers.choices import PowerState, VmState
from apps.servers.models import BlockDeviceMapping, InstanceActionEvent, Server
from apps.servers.services import finish_local_delete
from apps.volumes.models import StoragePool, Volume, VolumeAttachment, VolumeType

pytestmark = pytest.mark.django_db

C = "/compute/v2.1"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def server_on(caller: Any, host: str = "host-1", **fields: Any) -> Server:
    return Server.objects.create(
        name=f"s-{uuid.uuid4().hex[:6]}",
        project=caller.project,
        user_id=str(caller.user.pk),
        flavor_id="f1",
        flavor={"ephemeral": 0, "swap": 0},
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
        vm_state=fields.pop("vm_state", VmState.ACTIVE),
        power_state=PowerState.RUNNING,
        host=host,
        node=host,
        **fields,
    )


def volume_of(caller: Any, *, host: str = "host-1", shared: bool = False, **fields: Any) -> Volume:
    pool, _ = StoragePool.objects.get_or_create(
        host=host, backend="file", defaults={"shared": shared, "total_gb": 100, "free_gb": 100}
    )
    return Volume.objects.create(
        project=caller.project,
        user_id=str(caller.user.pk),
        size=1,
        status=fields.pop("status", "available"),
        volume_type=VolumeType.default(),
        pool=pool,
        **fields,
    )


def attach(client: Any, server: Server, volume_id: Any, status: int = 200, **extra: Any) -> Any:
    body = {"volumeAttachment": {"volumeId": str(volume_id), **extra}}
    response = client.post(
        f"{C}/servers/{server.uuid}/os-volume_attachments", body, format="json", **V
    )
    assert response.status_code == status, response.content[:500]
    return response.json()


def host_reports_attached(server: Server, volume: Volume, ok: bool = True, device: str = "vdb"):
    bdm = BlockDeviceMapping.objects.get(server=server, volume_id=volume.pk)
    conductor_tasks.volume_attached(
        host=server.host,
        server_uuid=str(server.uuid),
        volume_id=str(volume.pk),
        attachment_id=str(bdm.attachment_id),
        request_id=InstanceActionEvent.objects.filter(action__server=server)
        .values_list("action__request_id", flat=True)
        .last(),
        ok=ok,
        device=device if ok else None,
        fault=None
        if ok
        else {"message": "Bus 'pci.0' does not support hotplugging", "details": ""},
    )


def host_reports_detached(server: Server, volume: Volume, ok: bool = True) -> None:
    conductor_tasks.volume_detached(
        host=server.host,
        server_uuid=str(server.uuid),
        volume_id=str(volume.pk),
        attachment_id="",
        request_id=server.actions.values_list("request_id", flat=True).first(),
        ok=ok,
        device="vdb",
        fault=None if ok else {"message": "the guest did not release vdb", "details": ""},
    )


def status(volume: Volume) -> str:
    volume.refresh_from_db()
    return volume.status


def test_attach_answers_the_reserved_device_and_the_host_report_makes_it_in_use(member):
    server, volume = server_on(member), volume_of(member)

    body = attach(member.client, server, volume.pk)["volumeAttachment"]

    assert body == {
        "id": str(volume.pk),
        "volumeId": str(volume.pk),
        "serverId": str(server.uuid),
        "device": "/dev/vdb",
        "tag": None,
        "delete_on_termination": False,
    }
    assert status(volume) == "attaching"
    host_reports_attached(server, volume)
    assert status(volume) == "in-use"
    [attachment] = VolumeAttachment.objects.filter(volume=volume)
    assert (attachment.status, attachment.device) == ("attached", "/dev/vdb")
    listed = member.client.get(f"{C}/servers/{server.uuid}/os-volume_attachments", **V).json()
    [row] = listed["volumeAttachments"]
    assert row["attachment_id"] == str(attachment.pk)
    assert "id" not in row
    shown = member.client.get(f"{C}/servers/{server.uuid}", **V).json()["server"]
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": str(volume.pk), "delete_on_termination": False}
    ]
    old = member.client.get(
        f"{C}/servers/{server.uuid}", HTTP_X_OPENSTACK_NOVA_API_VERSION="2.1"
    ).json()["server"]
    assert old["os-extended-volumes:volumes_attached"] == [{"id": str(volume.pk)}]


def test_at_2_1_the_post_body_equals_the_list_entry(member):
    server, volume = server_on(member), volume_of(member)
    legacy = {"HTTP_X_OPENSTACK_NOVA_API_VERSION": "2.1"}
    response = member.client.post(
        f"{C}/servers/{server.uuid}/os-volume_attachments",
        {"volumeAttachment": {"volumeId": str(volume.pk)}},
        format="json",
        **legacy,
    )
    assert response.status_code == 200
    listed = member.client.get(f"{C}/servers/{server.uuid}/os-volume_attachments", **legacy)
    assert listed.json()["volumeAttachments"] == [response.json()["volumeAttachment"]]
    shown = member.client.get(
        f"{C}/servers/{server.uuid}/os-volume_attachments/{volume.pk}", **legacy
    )
    assert shown.json()["volumeAttachment"] == response.json()["volumeAttachment"]


def test_a_failed_attach_gives_the_volume_back_and_records_the_error(member):
    server, volume = server_on(member), volume_of(member)
    attach(member.client, server, volume.pk)

    host_reports_attached(server, volume, ok=False)

    assert status(volume) == "available"
    assert not VolumeAttachment.objects.filter(volume=volume).exists()
    assert not BlockDeviceMapping.objects.filter(server=server).exists()
    event = InstanceActionEvent.objects.get(event="compute_attach_volume")
    assert event.result == "Error"
    assert "hotplugging" in event.details


def test_a_volume_in_use_or_attached_already_is_a_400(member):
    server, other, volume = server_on(member), server_on(member), volume_of(member)
    attach(member.client, server, volume.pk)
    host_reports_attached(server, volume)

    again = attach(member.client, server, volume.pk, status=400)
    elsewhere = attach(member.client, other, volume.pk, status=400)

    assert "badRequest" in again
    assert "badRequest" in elsewhere
    assert status(volume) == "in-use"


def test_detach_waits_for_the_host_and_a_kept_disk_stays_in_use(member):
    server, volume = server_on(member), volume_of(member)
    attach(member.client, server, volume.pk)
    host_reports_attached(server, volume)
    url = f"{C}/servers/{server.uuid}/os-volume_attachments/{volume.pk}"

    assert member.client.delete(url, **V).status_code == 202
    assert status(volume) == "detaching"
    host_reports_detached(server, volume, ok=False)
    assert status(volume) == "in-use"

    assert member.client.delete(url, **V).status_code == 202
    host_reports_detached(server, volume)
    assert status(volume) == "available"
    assert member.client.get(url, **V).status_code == 404
    assert not VolumeAttachment.objects.filter(volume=volume).exists()


def test_deleting_the_server_frees_its_volumes_and_deletes_those_marked(member):
    server = server_on(member)
    keep, drop = volume_of(member), volume_of(member)
    attach(member.client, server, keep.pk)
    attach(member.client, server, drop.pk, delete_on_termination=True)
    host_reports_attached(server, keep)
    host_reports_attached(server, drop, device="vdc")

    finish_local_delete(server=server, request_id="req-delete")

    assert status(keep) == "available"
    assert status(drop) == "deleting"
    assert not VolumeAttachment.objects.exists()


def test_another_projects_volume_or_server_is_a_404_without_an_oracle(member, make_caller):
    stranger = make_caller()
    server, volume = server_on(member), volume_of(member)
    theirs = volume_of(stranger)

    made_up = uuid.uuid4()
    unknown = attach(member.client, server, made_up, status=404)
    foreign = attach(member.client, server, theirs.pk, status=404)
    assert unknown["itemNotFound"]["message"].replace(str(made_up), "ID") == foreign[
        "itemNotFound"
    ]["message"].replace(str(theirs.pk), "ID")
    attach(stranger.client, server, volume.pk, status=404)  # their server lookup: mine
    assert status(theirs) == "available"


def test_a_reader_cannot_attach_or_detach(member, reader):
    server, volume = server_on(member), volume_of(member)
    attach(reader.client, server, volume.pk, status=403)
    url = f"{C}/servers/{server.uuid}/os-volume_attachments/{volume.pk}"
    assert reader.client.delete(url, **V).status_code == 403
    assert status(volume) == "available"


@pytest.mark.parametrize(
    "body",
    [
        {"volumeAttachment": {"volumeId": "not-a-uuid"}},
        {"volumeAttachment": {}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "device": "vdb; rm"}},
        {"volumeAttachment": {"volumeId": str(uuid.uuid4()), "surprise": 1}},
        {"volumeAttachment": "x" * 70000},
        [],
    ],
)
def test_malformed_bodies_are_400s(member, body):
    server = server_on(member)
    response = member.client.post(
        f"{C}/servers/{server.uuid}/os-volume_attachments", body, format="json", **V
    )
    assert response.status_code in (400, 413), response.content[:300]


def test_tag_and_delete_on_termination_need_their_microversions(member):
    server, volume = server_on(member), volume_of(member)
    url = f"{C}/servers/{server.uuid}/os-volume_attachments"
    body = {"volumeAttachment": {"volumeId": str(volume.pk), "delete_on_termination": True}}
    old = member.client.post(url, body, format="json", HTTP_OPENSTACK_API_VERSION="compute 2.78")
    assert old.status_code == 400
    tagged = {"volumeAttachment": {"volumeId": str(volume.pk), "tag": "data"}}
    assert (
        member.client.post(
            url, tagged, format="json", HTTP_OPENSTACK_API_VERSION="compute 2.48"
        ).status_code
        == 400
    )
    assert status(volume) == "available"


def test_a_volume_on_another_hosts_disk_cannot_attach_but_a_shared_one_can(member):
    server = server_on(member, host="host-1")
    local = volume_of(member, host="host-2")
    attach(member.client, server, local.pk, status=400)
    shared = volume_of(member, host="host-3", shared=True)
    attach(member.client, server, shared.pk)


def test_a_locked_server_refuses_its_owner(member):
    server, volume = server_on(member, locked=True), volume_of(member)
    attach(member.client, server, volume.pk, status=409)
    assert status(volume) == "available"

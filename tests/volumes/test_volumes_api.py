"""The block-storage API's volumes: discovery, microversions, the field sets of each answer,
create (blank, image, snapshot), list filters and paging, update, delete, extend, bootable
and metadata, as the clients of CINDER-SUBSET.md send them."""

import uuid

import pytest

from apps.volumes.choices import AttachStatus, VolumeStatus
from apps.volumes.models import Volume, VolumeAttachment
from tests.volumes.conftest import (
    API,
    available_volume,
    cinder_error,
    create_volume,
    header,
    host_reports,
    ok,
)

pytestmark = pytest.mark.django_db

BASE_KEYS = {
    "id", "name", "description", "size", "status", "attachments", "bootable", "multiattach",
    "availability_zone", "created_at", "updated_at", "volume_type", "metadata", "links",
    "user_id", "encrypted", "replication_status", "consistencygroup_id", "snapshot_id",
    "source_volid",
}  # fmt: skip
ADMIN_SHOW_KEYS = {
    "migration_status", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
    "os-vol-mig-status-attr:name_id",
}  # fmt: skip


# --- discovery and microversions --------------------------------------------------------------
def test_discovery_without_a_token(anonymous, settings):
    settings.PUBLIC_URL = "http://cloud.example"
    root = anonymous.get("/volume/")
    assert root.status_code == 300
    (v3,) = root.json()["versions"]
    assert v3["id"] == "v3.0"
    assert (v3["version"], v3["min_version"], v3["status"]) == ("3.71", "3.0", "CURRENT")
    assert v3["links"] == [{"rel": "self", "href": "http://cloud.example/volume/v3/"}]
    assert v3["media-types"][0]["type"] == "application/vnd.openstack.volume+json;version=3"
    for path in ("/volume/v3/", "/volume/v3"):
        assert ok(anonymous.get(path))["versions"] == [v3]
    assert anonymous.get("/volume").status_code == 300


def test_microversion_is_echoed_and_bounded(member, pool):
    plain = member.client.get(f"{API}/volumes")
    assert plain["OpenStack-API-Version"] == "volume 3.0"
    assert "OpenStack-API-Version" in plain["Vary"]
    asked = member.client.get(f"{API}/volumes", **header("3.71"))
    assert asked["OpenStack-API-Version"] == "volume 3.71"
    latest = member.client.get(f"{API}/volumes", **header("latest"))
    assert latest["OpenStack-API-Version"] == "volume 3.71"
    cinder_error(member.client.get(f"{API}/volumes", **header("3.72")), 406, "notAcceptable")
    cinder_error(member.client.get(f"{API}/volumes", **header("2.0")), 406, "notAcceptable")
    cinder_error(member.client.get(f"{API}/volumes", **header("three")), 400, "badRequest")
    # another service's version is not ours
    other = member.client.get(f"{API}/volumes", HTTP_OPENSTACK_API_VERSION="compute 2.90")
    assert other["OpenStack-API-Version"] == "volume 3.0"


def test_unknown_paths_and_missing_tokens(anonymous, member):
    cinder_error(member.client.get(f"{API}/nothing-here"), 404, "itemNotFound")
    cinder_error(member.client.get("/volume/v2/volumes"), 404, "itemNotFound")
    response = anonymous.get(f"{API}/volumes")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_catalog_lists_block_storage_and_volumev3(member, settings):
    from apps.identity.catalog import service_catalog

    settings.PUBLIC_URL = "http://cloud.example"
    by_type = {s["type"]: s for s in service_catalog()}
    for kind in ("block-storage", "volumev3"):
        public = [e for e in by_type[kind]["endpoints"] if e["interface"] == "public"]
        assert public[0]["url"] == "http://cloud.example/volume/v3"
        assert public[0]["region"] == by_type["compute"]["endpoints"][0]["region"]


# --- create and its answers -------------------------------------------------------------------
def test_create_blank_answers_202_without_show_only_keys(
    member, pool, host_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = create_volume(member.client, name="data", size=2, metadata={"a": "b"})
    assert set(created) == BASE_KEYS
    assert created["status"] == "creating"
    assert created["bootable"] == "false"
    assert created["volume_type"] == "__DEFAULT__"
    assert created["availability_zone"] == "nova"
    assert created["metadata"] == {"a": "b"}
    assert created["attachments"] == []
    volume = Volume.objects.get(pk=created["id"])
    assert volume.pool == pool
    [(task, payload)] = host_queue()
    assert task == "compute.create_volume"
    assert payload == {
        "volume_id": created["id"],
        "size_gb": 2,
        "backend": "file",
        "request_id": payload["request_id"],
        "image": None,
        "snapshot_id": None,
        "source_volume_id": None,
    }
    # the host reports: available; show has the tenant key for a member, not the admin's keys
    host_reports(created["id"], "create")
    shown = ok(member.client.get(f"{API}/volumes/{created['id']}"))["volume"]
    assert shown["status"] == "available"
    assert set(shown) == BASE_KEYS | {"os-vol-tenant-attr:tenant_id"}
    assert shown["os-vol-tenant-attr:tenant_id"] == member.project.pk


def test_create_accepts_what_osc_and_tempest_send(member, pool):
    # OSC: every key, null where unset
    osc = create_volume(
        member.client, size=1, name="osc", description=None, volume_type=None,
        availability_zone=None, metadata=None, imageRef=None, snapshot_id=None,
        source_volid=None, consistencygroup_id=None, backup_id=None,
    )  # fmt: skip
    assert osc["name"] == "osc"
    # Tempest: display_name; digits as a string
    tempest = create_volume(member.client, size="1", display_name="t", display_description="d")
    assert (tempest["name"], tempest["description"]) == ("t", "d")
    by_type = create_volume(member.client, volume_type="__DEFAULT__")
    assert by_type["volume_type"] == "__DEFAULT__"


@pytest.mark.parametrize(
    "attrs",
    [
        {"size": 0},
        {"size": -1},
        {"size": "#$%"},
        {"size": ""},
        {"size": True},
        {"size": 1.5},
        {"size": None},
        {"size": 10**12},
        {"name": "x" * 256},
        {"metadata": {"k": 1}},
        {"metadata": "k=v"},
        {"metadata": {"": "v"}},
        {"imageRef": str(uuid.uuid4())},
        {"imageRef": "not-a-uuid"},
        {"snapshot_id": str(uuid.uuid4())},
        {"backup_id": str(uuid.uuid4())},
        {"multiattach": True},
        {"availability_zone": {"a": 1}},
        {"availability_zone": ["nova"]},
    ],
)
def test_create_refuses_bad_input_with_400(member, pool, attrs):
    body = {"size": 1, **attrs}
    response = member.client.post(f"{API}/volumes", {"volume": body}, format="json")
    cinder_error(response, 400, "badRequest")
    assert not Volume.objects.exists()


@pytest.mark.parametrize("body", [[], {"volume": []}, {"volume": "x"}, {}, {"volumes": {}}])
def test_malformed_bodies_are_400(member, pool, body):
    response = member.client.post(f"{API}/volumes", body, format="json")
    cinder_error(response, 400, "badRequest")


def test_non_json_bodies_and_nesting_are_400(member, pool):
    text = member.client.post(f"{API}/volumes", "{not json", content_type="application/json")
    cinder_error(text, 400, "badRequest")
    deep = "[" * 100000 + "]" * 100000
    nested = member.client.post(f"{API}/volumes", deep, content_type="application/json")
    assert nested.status_code in (400, 413)
    assert nested["Content-Type"].startswith("application/json")


def test_unknown_volume_type_is_404(member, pool):
    response = member.client.post(
        f"{API}/volumes", {"volume": {"size": 1, "volume_type": "gold"}}, format="json"
    )
    cinder_error(response, 404, "itemNotFound")


def test_unknown_keys_are_ignored_until_3_53_then_refused(member, pool):
    # a user naming the status, pool or host of a volume gets neither
    sneaky = {"status": "available", "host": "evil@lvm#lvm", "pool": "x", "size": 1}
    created = create_volume(member.client, **sneaky)
    assert created["status"] == "creating"
    assert Volume.objects.get(pk=created["id"]).pool.host == "storage-1"
    response = member.client.post(
        f"{API}/volumes", {"volume": sneaky}, format="json", **header("3.53")
    )
    assert "Additional properties" in cinder_error(response, 400, "badRequest")


def test_without_a_pool_the_volume_is_created_in_error(member):
    created = create_volume(member.client)
    assert created["status"] == "error"
    assert Volume.objects.get(pk=created["id"]).error_reason == "No valid backend was found"


def test_the_pool_with_most_room_on_an_up_enabled_host_is_chosen(member, make_pool):
    from apps.hosts.models import Service

    make_pool(host="small", total_gb=10)
    big = make_pool(host="big", total_gb=50)
    make_pool(host="disabled", total_gb=500)
    Service.objects.filter(host="disabled").update(disabled=True)
    make_pool(host="down", total_gb=500)
    Service.objects.filter(host="down").update(last_seen_up=None)
    first = create_volume(member.client, size=45)
    assert Volume.objects.get(pk=first["id"]).pool == big
    # big now has 5 left, small 10
    second = create_volume(member.client, size=6)
    assert Volume.objects.get(pk=second["id"]).pool.host == "small"
    # nothing has 11 left
    third = create_volume(member.client, size=11)
    assert third["status"] == "error"


def test_create_from_an_image(member, pool, image_id, host_queue,
                              django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        created = create_volume(member.client, imageRef=image_id, size=1, name="boot")
    assert created["bootable"] == "true"
    assert "volume_image_metadata" not in created
    [(task, payload)] = host_queue()
    assert task == "compute.create_volume"
    assert payload["image"]["image_id"] == image_id
    assert f"/image/v2/images/{image_id}/file?expires=" in payload["image"]["url"]
    assert "&sig=" in payload["image"]["url"]
    host_reports(created["id"], "create")
    shown = ok(member.client.get(f"{API}/volumes/{created['id']}"))["volume"]
    meta = shown["volume_image_metadata"]
    assert meta["image_id"] == image_id
    assert meta["image_name"] == "tiny"
    assert {"disk_format", "container_format", "min_ram", "min_disk", "size", "checksum"} <= set(
        meta
    )


def test_create_from_a_snapshot_goes_to_its_pool_and_is_at_least_its_size(
    member, make_pool, host_queue, django_capture_on_commit_callbacks
):
    first = make_pool(host="storage-1", total_gb=20)
    volume = available_volume(member.client, size=3)
    make_pool(host="roomy", total_gb=1000)
    snap = ok(
        member.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}},
                           format="json"), 202,
    )["snapshot"]  # fmt: skip
    host_reports(volume["id"], "snapshot", snapshot_id=snap["id"])
    small = member.client.post(
        f"{API}/volumes", {"volume": {"size": 2, "snapshot_id": snap["id"]}}, format="json"
    )
    cinder_error(small, 400, "badRequest")
    host_queue()  # empty the queue
    with django_capture_on_commit_callbacks(execute=True):
        made = create_volume(member.client, size=None, snapshot_id=snap["id"])
    assert made["size"] == 3
    assert made["snapshot_id"] == snap["id"]
    assert Volume.objects.get(pk=made["id"]).pool == first
    [(task, payload)] = host_queue()
    assert (task, payload["snapshot_id"]) == ("compute.create_volume", snap["id"])


# --- lists -------------------------------------------------------------------------------------
def test_summary_and_detail_lists_newest_first(member, pool):
    ids = [create_volume(member.client, name=f"v{i}")["id"] for i in range(3)]
    summary = ok(member.client.get(f"{API}/volumes"))["volumes"]
    assert [v["id"] for v in summary] == ids[::-1]
    assert all(set(v) == {"id", "name", "links"} for v in summary)
    detail = ok(member.client.get(f"{API}/volumes/detail"))["volumes"]
    assert [v["id"] for v in detail] == ids[::-1]
    assert set(detail[0]) == BASE_KEYS | {"os-vol-tenant-attr:tenant_id"}


def test_marker_pagination_until_an_empty_page(member, pool):
    ids = [create_volume(member.client, name=f"v{i}")["id"] for i in range(5)][::-1]
    seen, marker = [], None
    for _ in range(10):
        query = "limit=2" + (f"&marker={marker}" if marker else "")
        page = ok(member.client.get(f"{API}/volumes/detail?{query}"))
        if not page["volumes"]:
            break
        seen += [v["id"] for v in page["volumes"]]
        marker = page["volumes"][-1]["id"]
        if len(page["volumes"]) == 2:
            assert "marker=" in page["volumes_links"][0]["href"]
    assert seen == ids
    unknown = member.client.get(f"{API}/volumes?marker={uuid.uuid4()}")
    cinder_error(unknown, 400, "badRequest")
    cinder_error(member.client.get(f"{API}/volumes?limit=x"), 400, "badRequest")
    cinder_error(member.client.get(f"{API}/volumes?limit=-1"), 400, "badRequest")


def test_filters_name_status_metadata(member, pool):
    a = create_volume(member.client, name="a", metadata={"tier": "gold", "x": "1"})
    b = create_volume(member.client, name="b", metadata={"tier": "silver"})
    host_reports(b["id"], "create")

    def ids(query):
        return [v["id"] for v in ok(member.client.get(f"{API}/volumes/detail?{query}"))["volumes"]]

    assert ids("name=a") == [a["id"]]
    assert ids("status=available") == [b["id"]]
    assert ids("status=creating") == [a["id"]]
    assert ids("metadata={'tier': 'gold'}") == [a["id"]]
    assert ids("metadata=%7B%27tier%27%3A+%27silver%27%7D") == [b["id"]]
    assert ids("metadata={}") == [b["id"], a["id"]]
    for bad in ("metadata=__import__('os')", "metadata=[1]", "metadata={'a': 1}", "metadata={"):
        cinder_error(member.client.get(f"{API}/volumes/detail?{bad}"), 400, "badRequest")


def test_all_tenants_and_project_id_for_admins_only(member, admin, pool, make_caller):
    mine = create_volume(member.client)
    theirs = create_volume(admin.client)
    other = make_caller()
    others = create_volume(other.client)
    listed = ok(member.client.get(f"{API}/volumes?all_tenants=True"))["volumes"]
    assert [v["id"] for v in listed] == [mine["id"]]
    own = ok(admin.client.get(f"{API}/volumes"))["volumes"]
    assert [v["id"] for v in own] == [theirs["id"]]
    every = ok(admin.client.get(f"{API}/volumes/detail?all_tenants=1"))["volumes"]
    assert {v["id"] for v in every} == {mine["id"], theirs["id"], others["id"]}
    assert set(every[0]) >= ADMIN_SHOW_KEYS
    assert every[0]["os-vol-host-attr:host"] == "storage-1@file#file"
    narrowed = ok(
        admin.client.get(f"{API}/volumes?all_tenants=True&project_id={other.project.pk}")
    )["volumes"]
    assert [v["id"] for v in narrowed] == [others["id"]]


# --- microversion-gated fields -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "member_extra", "admin_extra"),
    [
        ("3.0", set(), set()),
        ("3.13", {"group_id"}, set()),
        ("3.21", {"group_id"}, {"provider_id"}),
        ("3.48", {"group_id", "service_uuid", "shared_targets"}, {"provider_id"}),
        ("3.61", {"group_id", "service_uuid", "shared_targets"}, {"provider_id", "cluster_name"}),
        (
            "3.65",
            {
                "group_id",
                "service_uuid",
                "shared_targets",
                "volume_type_id",
                "encryption_key_id",
                "consumes_quota",
            },
            {"provider_id", "cluster_name"},
        ),
    ],
)
def test_fields_by_microversion(member, admin, pool, version, member_extra, admin_extra):
    volume = create_volume(member.client)
    shown = ok(member.client.get(f"{API}/volumes/{volume['id']}", **header(version)))["volume"]
    assert set(shown) == BASE_KEYS | {"os-vol-tenant-attr:tenant_id"} | member_extra
    as_admin = ok(admin.client.get(f"{API}/volumes/{volume['id']}", **header(version)))["volume"]
    expected = BASE_KEYS | {"os-vol-tenant-attr:tenant_id"} | ADMIN_SHOW_KEYS
    assert set(as_admin) == expected | member_extra | admin_extra
    created = create_volume(admin.client, version=version)
    assert set(created) == BASE_KEYS | {"migration_status"} | member_extra | admin_extra


def test_attachments_list_only_attached_ones(member, admin, pool):
    volume = available_volume(member.client)
    server = uuid.uuid4()
    attachment = VolumeAttachment.objects.create(
        volume_id=volume["id"], instance_uuid=server, status=AttachStatus.ATTACHING,
        host_name="storage-1",
    )  # fmt: skip
    shown = ok(member.client.get(f"{API}/volumes/{volume['id']}"))["volume"]
    assert shown["attachments"] == []
    VolumeAttachment.objects.filter(pk=attachment.pk).update(
        status=AttachStatus.ATTACHED, device="/dev/vdb"
    )
    Volume.objects.filter(pk=volume["id"]).update(status=VolumeStatus.IN_USE)
    [entry] = ok(member.client.get(f"{API}/volumes/{volume['id']}"))["volume"]["attachments"]
    assert entry == {
        "server_id": str(server),
        "attachment_id": str(attachment.pk),
        "volume_id": volume["id"],
        "device": "/dev/vdb",
        "host_name": None,
        "id": volume["id"],
        "attached_at": None,
    }
    [seen_by_admin] = ok(admin.client.get(f"{API}/volumes/{volume['id']}"))["volume"]["attachments"]
    assert seen_by_admin["host_name"] == "storage-1"


# --- update, metadata, bootable ----------------------------------------------------------------
def test_update_name_description_metadata(member, pool):
    volume = create_volume(member.client, name="old")
    updated = ok(
        member.client.put(f"{API}/volumes/{volume['id']}",
                          {"volume": {"name": "new", "display_description": "d"}}, format="json")
    )["volume"]  # fmt: skip
    assert (updated["name"], updated["description"]) == ("new", "d")
    assert set(updated) == BASE_KEYS
    ok(member.client.put(f"{API}/volumes/{volume['id']}", {"volume": {"metadata": {"k": "v"}}},
                         format="json"))  # fmt: skip
    assert Volume.objects.get(pk=volume["id"]).metadata == {"k": "v"}
    empty = member.client.put(f"{API}/volumes/{volume['id']}", {"volume": {}}, format="json")
    cinder_error(empty, 400, "badRequest")
    status = member.client.put(
        f"{API}/volumes/{volume['id']}", {"volume": {"status": "available"}}, format="json",
        **header("3.60"),
    )  # fmt: skip
    cinder_error(status, 400, "badRequest")
    assert Volume.objects.get(pk=volume["id"]).status == "creating"


def test_metadata_routes(member, pool):
    volume = create_volume(member.client, metadata={"a": "1"})
    url = f"{API}/volumes/{volume['id']}/metadata"
    assert ok(member.client.get(url)) == {"metadata": {"a": "1"}}
    merged = ok(member.client.post(url, {"metadata": {"b": "2"}}, format="json"))
    assert merged == {"metadata": {"a": "1", "b": "2"}}
    assert ok(member.client.get(f"{url}/b")) == {"meta": {"b": "2"}}
    ok(member.client.put(f"{url}/b", {"meta": {"b": "3"}}, format="json"))
    ok(member.client.delete(f"{url}/a"))
    assert Volume.objects.get(pk=volume["id"]).metadata == {"b": "3"}
    cinder_error(member.client.delete(f"{url}/a"), 404, "itemNotFound")
    cinder_error(member.client.get(f"{url}/a"), 404, "itemNotFound")
    replaced = ok(member.client.put(url, {"metadata": {"c": "4"}}, format="json"))
    assert replaced == {"metadata": {"c": "4"}}
    cinder_error(member.client.post(url, {"metadata": {"c": 4}}, format="json"), 400, "badRequest")
    cinder_error(member.client.post(url, {"nope": 1}, format="json"), 400, "badRequest")


def test_set_bootable_answers_200(member, pool):
    volume = available_volume(member.client)
    url = f"{API}/volumes/{volume['id']}/action"
    response = member.client.post(url, {"os-set_bootable": {"bootable": True}}, format="json")
    assert response.status_code == 200
    assert ok(member.client.get(f"{API}/volumes/{volume['id']}"))["volume"]["bootable"] == "true"
    ok(member.client.post(url, {"os-set_bootable": {"bootable": "False"}}, format="json"))
    assert Volume.objects.get(pk=volume["id"]).bootable is False
    bad = member.client.post(url, {"os-set_bootable": {"bootable": "maybe"}}, format="json")
    cinder_error(bad, 400, "badRequest")
    unknown = member.client.post(url, {"os-frobnicate": {}}, format="json")
    cinder_error(unknown, 400, "badRequest")
    two = member.client.post(url, {"os-extend": {"new_size": 2}, "os-set_bootable": {}},
                             format="json")  # fmt: skip
    cinder_error(two, 400, "badRequest")


def test_reset_status_is_an_admins(member, admin, pool):
    volume = create_volume(member.client)
    url = f"{API}/volumes/{volume['id']}/action"
    body = {"os-reset_status": {"status": "available"}}
    cinder_error(member.client.post(url, body, format="json"), 403, "forbidden")
    assert admin.client.post(url, body, format="json").status_code == 202
    assert Volume.objects.get(pk=volume["id"]).status == "available"


# --- extend ------------------------------------------------------------------------------------
def test_extend_rules_and_host_report(member, pool, host_queue,
                                      django_capture_on_commit_callbacks):  # fmt: skip
    volume = available_volume(member.client, size=2)
    url = f"{API}/volumes/{volume['id']}/action"
    for size in (2, 1, 0, "x", None):
        cinder_error(member.client.post(url, {"os-extend": {"new_size": size}}, format="json"),
                     400, "badRequest")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = member.client.post(url, {"os-extend": {"new_size": 5}}, format="json")
    assert response.status_code == 202
    shown = ok(member.client.get(f"{API}/volumes/{volume['id']}"))["volume"]
    assert (shown["status"], shown["size"]) == ("extending", 2)
    [(_task, payload)] = [m for m in host_queue() if m[0] == "compute.extend_volume"]
    assert (payload["size_gb"], payload["server_uuid"]) == (5, None)
    # busy: a second extend is refused
    again = member.client.post(url, {"os-extend": {"new_size": 6}}, format="json")
    cinder_error(again, 400, "badRequest")
    host_reports(volume["id"], "extend")
    shown = ok(member.client.get(f"{API}/volumes/{volume['id']}"))["volume"]
    assert (shown["status"], shown["size"]) == ("available", 5)


def test_extend_in_use_needs_3_42(member, pool):
    volume = available_volume(member.client)
    VolumeAttachment.objects.create(
        volume_id=volume["id"], instance_uuid=uuid.uuid4(), status=AttachStatus.ATTACHED,
        device="/dev/vdb",
    )  # fmt: skip
    Volume.objects.filter(pk=volume["id"]).update(status=VolumeStatus.IN_USE)
    url = f"{API}/volumes/{volume['id']}/action"
    body = {"os-extend": {"new_size": 2}}
    cinder_error(member.client.post(url, body, format="json", **header("3.41")), 400, "badRequest")
    assert member.client.post(url, body, format="json", **header("3.42")).status_code == 202
    host_reports(volume["id"], "extend")
    assert Volume.objects.get(pk=volume["id"]).status == "in-use"


# --- delete ------------------------------------------------------------------------------------
def test_delete_then_404_after_the_host_reports(member, pool, host_queue,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    volume = available_volume(member.client)
    with django_capture_on_commit_callbacks(execute=True):
        response = member.client.delete(f"{API}/volumes/{volume['id']}?cascade=False&force=False")
    assert response.status_code == 202
    shown = ok(member.client.get(f"{API}/volumes/{volume['id']}"))["volume"]
    assert shown["status"] == "deleting"
    [(task, payload)] = host_queue()
    assert (task, payload["volume_id"], payload["backend"]) == (
        "compute.delete_volume", volume["id"], "file",
    )  # fmt: skip
    host_reports(volume["id"], "delete")
    cinder_error(member.client.get(f"{API}/volumes/{volume['id']}"), 404, "itemNotFound")


def test_delete_refusals(member, admin, pool):
    creating = create_volume(member.client)
    cinder_error(member.client.delete(f"{API}/volumes/{creating['id']}"), 400, "badRequest")
    attached = available_volume(member.client)
    VolumeAttachment.objects.create(
        volume_id=attached["id"], instance_uuid=uuid.uuid4(), status=AttachStatus.ATTACHED
    )
    Volume.objects.filter(pk=attached["id"]).update(status=VolumeStatus.IN_USE)
    cinder_error(member.client.delete(f"{API}/volumes/{attached['id']}"), 400, "badRequest")
    # force is an admin's, and never for an attached volume
    cinder_error(
        member.client.delete(f"{API}/volumes/{creating['id']}?force=True"), 403, "forbidden"
    )
    cinder_error(
        admin.client.delete(f"{API}/volumes/{attached['id']}?force=True"), 400, "badRequest"
    )
    assert admin.client.delete(f"{API}/volumes/{creating['id']}?force=True").status_code == 202
    cinder_error(
        member.client.delete(f"{API}/volumes/{creating['id']}?cascade=perhaps"), 400, "badRequest"
    )
    cinder_error(member.client.delete(f"{API}/volumes/{uuid.uuid4()}"), 404, "itemNotFound")


def test_delete_with_snapshots_needs_cascade(member, pool, host_queue,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    volume = available_volume(member.client)
    snap = ok(member.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}},
                                 format="json"), 202)["snapshot"]  # fmt: skip
    host_reports(volume["id"], "snapshot", snapshot_id=snap["id"])
    cinder_error(member.client.delete(f"{API}/volumes/{volume['id']}"), 400, "badRequest")
    with django_capture_on_commit_callbacks(execute=True):
        response = member.client.delete(f"{API}/volumes/{volume['id']}?cascade=True")
    assert response.status_code == 202
    tasks = [task for task, _ in host_queue()]
    assert tasks[-2:] == ["compute.delete_volume_snapshot", "compute.delete_volume"]
    host_reports(volume["id"], "delete_snapshot", snapshot_id=snap["id"])
    host_reports(volume["id"], "delete")
    assert not Volume.objects.filter(pk=volume["id"]).exists()


def test_a_volume_in_error_without_a_pool_is_deleted_at_once(member):
    volume = create_volume(member.client)
    assert volume["status"] == "error"
    assert member.client.delete(f"{API}/volumes/{volume['id']}").status_code == 202
    cinder_error(member.client.get(f"{API}/volumes/{volume['id']}"), 404, "itemNotFound")


def test_lists_cost_the_same_for_one_volume_or_many(member, pool):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            ok(member.client.get(path))
        return len(queries)

    def add_attached() -> None:
        volume = available_volume(member.client)
        VolumeAttachment.objects.create(
            volume_id=volume["id"], instance_uuid=uuid.uuid4(), status=AttachStatus.ATTACHED
        )

    add_attached()
    one = {path: cost(path) for path in (f"{API}/volumes/detail", "/compute/v2.1/os-volumes")}
    for _ in range(4):
        add_attached()
    assert {path: cost(path) for path in one} == one


def test_create_from_another_volume_goes_to_its_pool(
    member, make_pool, host_queue, django_capture_on_commit_callbacks
):
    first = make_pool(host="storage-1", total_gb=20)
    source = available_volume(member.client, size=2)
    make_pool(host="roomy", total_gb=1000)
    small = member.client.post(
        f"{API}/volumes", {"volume": {"size": 1, "source_volid": source["id"]}}, format="json"
    )
    cinder_error(small, 400, "badRequest")
    with django_capture_on_commit_callbacks(execute=True):
        clone = create_volume(member.client, size=None, source_volid=source["id"])
    assert (clone["size"], clone["source_volid"]) == (2, source["id"])
    assert Volume.objects.get(pk=clone["id"]).pool == first
    (task, payload) = host_queue()[-1]
    assert (task, payload["source_volume_id"]) == ("compute.create_volume", source["id"])
    both = member.client.post(
        f"{API}/volumes",
        {"volume": {"size": 2, "source_volid": source["id"], "snapshot_id": str(uuid.uuid4())}},
        format="json",
    )
    cinder_error(both, 400, "badRequest")

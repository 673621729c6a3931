"""The block-storage API as an attacker sees it: another project's volumes and snapshots are
unknown ids (404 on every verb, the same answer as a made-up id), a reader cannot write, and
no input gives a 500."""

import re
import uuid

import pytest

from apps.volumes.models import Volume, VolumeSnapshot
from tests.volumes.conftest import API, available_volume, cinder_error, create_volume, ok

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def victim(make_caller, pool):
    """Another project, with an available volume and an available snapshot of it."""
    owner = make_caller()
    volume = available_volume(owner.client, name="secret", metadata={"k": "v"})
    snap = ok(
        owner.client.post(f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}},
                          format="json"), 202,
    )["snapshot"]  # fmt: skip
    VolumeSnapshot.objects.filter(pk=snap["id"]).update(status="available")
    return {"volume": volume["id"], "snapshot": snap["id"]}


def _requests(volume_id: str, snapshot_id: str) -> list[tuple[str, str, dict | None]]:
    v, s = f"{API}/volumes/{volume_id}", f"{API}/snapshots/{snapshot_id}"
    return [
        ("get", v, None),
        ("put", v, {"volume": {"name": "mine"}}),
        ("delete", v, None),
        ("delete", f"{v}?cascade=True", None),
        ("post", f"{v}/action", {"os-extend": {"new_size": 5}}),
        ("post", f"{v}/action", {"os-set_bootable": {"bootable": True}}),
        ("get", f"{v}/metadata", None),
        ("post", f"{v}/metadata", {"metadata": {"x": "y"}}),
        ("put", f"{v}/metadata", {"metadata": {}}),
        ("get", f"{v}/metadata/k", None),
        ("put", f"{v}/metadata/k", {"meta": {"k": "w"}}),
        ("delete", f"{v}/metadata/k", None),
        ("get", s, None),
        ("put", s, {"snapshot": {"name": "mine"}}),
        ("delete", s, None),
        ("post", f"{API}/snapshots", {"snapshot": {"volume_id": volume_id, "force": True}}),
        ("post", f"{API}/volumes", {"volume": {"size": 1, "snapshot_id": snapshot_id}}),
        ("post", f"{API}/volumes", {"volume": {"size": 1, "source_volid": volume_id}}),
    ]


def _call(client, method, url, body):
    return (
        getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    )


def test_another_projects_ids_answer_as_unknown_ones(member, victim):
    theirs = _requests(victim["volume"], victim["snapshot"])
    made_up = _requests(str(uuid.uuid4()), str(uuid.uuid4()))
    for (method, url, body), (_, fake_url, fake_body) in zip(theirs, made_up, strict=True):
        real = _call(member.client, method, url, body)
        fake = _call(member.client, method, fake_url, fake_body)
        assert real.status_code == fake.status_code, (method, url, real.content)
        assert real.status_code in (400, 404), (method, url, real.content)
        # the same words, but for the id each one named
        assert UUID.sub("ID", real.content.decode()) == UUID.sub("ID", fake.content.decode())
    volume = Volume.objects.get(pk=victim["volume"])
    assert (volume.name, volume.status, volume.size, volume.metadata, volume.bootable) == (
        "secret", "available", 1, {"k": "v"}, False,
    )  # fmt: skip
    assert VolumeSnapshot.objects.get(pk=victim["snapshot"]).status == "available"
    # and their volumes never show in lists, all_tenants or not, nor as a marker
    for query in ("", "?all_tenants=True", f"?project_id={volume.project_id}&all_tenants=1"):
        assert ok(member.client.get(f"{API}/volumes/detail{query}"))["volumes"] == []
        assert ok(member.client.get(f"{API}/snapshots/detail{query}"))["snapshots"] == []
    marker = member.client.get(f"{API}/volumes?marker={victim['volume']}")
    cinder_error(marker, 400, "badRequest")


def test_a_reader_reads_but_never_writes(member, reader, pool):
    volume = available_volume(member.client)
    assert ok(reader.client.get(f"{API}/volumes/{volume['id']}"))["volume"]["id"] == volume["id"]
    assert ok(reader.client.get(f"{API}/volumes/detail"))["volumes"]
    v = f"{API}/volumes/{volume['id']}"
    writes = [
        ("post", f"{API}/volumes", {"volume": {"size": 1}}),
        ("put", v, {"volume": {"name": "x"}}),
        ("delete", v, None),
        ("post", f"{v}/action", {"os-extend": {"new_size": 2}}),
        ("post", f"{v}/action", {"os-set_bootable": {"bootable": True}}),
        ("post", f"{v}/metadata", {"metadata": {"a": "b"}}),
        ("put", f"{v}/metadata/a", {"meta": {"a": "b"}}),
        ("delete", f"{v}/metadata/a", None),
        ("post", f"{API}/snapshots", {"snapshot": {"volume_id": volume["id"]}}),
        ("put", f"{API}/os-quota-sets/{member.project.pk}", {"quota_set": {"volumes": 1}}),
    ]
    for method, url, body in writes:
        response = _call(reader.client, method, url, body)
        cinder_error(response, 403, "forbidden")
    assert Volume.objects.count() == 1
    assert Volume.objects.get().name is None
    assert not VolumeSnapshot.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        None,
        "null",
        "[]",
        "1",
        '"volume"',
        '{"volume": null}',
        '{"volume": {"size": {"a": 1}}}',
        '{"volume": {"size": [1]}}',
        '{"volume": {"size": 1, "name": ["x"]}}',
        '{"volume": {"size": 1, "metadata": [["a", "b"]]}}',
        '{"volume": {"size": 1, "metadata": {"a": {"b": "c"}}}}',
        '{"volume": {"size": 1, "volume_type": {"a": 1}}}',
        '{"volume": {"size": 1, "imageRef": {"a": 1}}}',
        '{"volume": {"size": 1, "snapshot_id": ["x"]}}',
        '{"volume": {"size": 1, "name": "a\\u0000b"}}',
        '{"volume": {"size": NaN}}',
        '{"volume": {"size": 1e400}}',
    ],
)
def test_malformed_create_bodies_are_400(member, pool, body):
    response = member.client.post(f"{API}/volumes", body, content_type="application/json")
    cinder_error(response, 400, "badRequest")
    assert not Volume.objects.exists()


@pytest.mark.parametrize(
    "action",
    [
        {"os-extend": None},
        {"os-extend": {}},
        {"os-extend": {"new_size": {"a": 1}}},
        {"os-extend": {"new_size": 2, "extra": 1}},
        {"os-set_bootable": {"bootable": None}},
        {"os-set_bootable": []},
        {"os-reset_status": {"status": "available"}},
        [],
        {},
    ],
)
def test_malformed_actions_are_4xx_never_500(member, pool, action):
    volume = available_volume(member.client)
    response = member.client.post(f"{API}/volumes/{volume['id']}/action", action, format="json")
    assert response.status_code in (400, 403), response.content
    assert response["Content-Type"].startswith("application/json")


def test_oversized_bodies_are_413(member, pool, settings):
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = member.client.post(
        f"{API}/volumes", {"volume": {"size": 1, "description": padding}}, format="json"
    )
    cinder_error(response, 413, "overLimit")


@pytest.mark.parametrize(
    "query",
    [
        "limit=99999999999999999999999",
        "marker=%00",
        "marker=' OR 1=1 --",
        "metadata=" + "{" * 5000,
        "metadata={'a': 'b'" + "," * 10 + "}",
        "metadata=(lambda: 1)()",
        "all_tenants=maybe",
        "status=%00",
        "name=" + "x" * 5000,
    ],
)
def test_hostile_list_queries_never_500(member, pool, query):
    create_volume(member.client)
    response = member.client.get(f"{API}/volumes/detail?{query}")
    assert response.status_code in (200, 400), response.content
    assert response["Content-Type"].startswith("application/json")


def test_a_name_lookup_by_id_is_404_not_500(member, pool):
    for key in ("my-volume", "x" * 300, "%00", "../types"):
        response = member.client.get(f"{API}/volumes/{key}")
        assert response.status_code == 404, (key, response.content)

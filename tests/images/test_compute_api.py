"""The Compute API's image proxy (/compute/v2.1/images, 2.1-2.35): Nova's shapes over the
same image records the Glance API serves."""

import pytest

from apps.images.models import Image

pytestmark = pytest.mark.django_db

IMAGES = "/compute/v2.1/images"
V235 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.35"}
V236 = {"HTTP_OPENSTACK_API_VERSION": "compute 2.36"}


def test_detail_shows_nova_status_sizes_and_metadata(member, make_image):
    # given
    image = make_image(member, data=b"x" * 1024, name="base", min_ram=64, hw_disk_bus="virtio")
    # when
    body = member.client.get(f"{IMAGES}/{image.pk}", **V235).json()["image"]
    # then
    assert body["status"] == "ACTIVE"
    assert body["progress"] == 100
    assert body["minRam"] == 64
    assert body["minDisk"] == 0
    assert body["OS-EXT-IMG-SIZE:size"] == 1024
    assert body["metadata"] == {"hw_disk_bus": "virtio"}
    assert body["created"].endswith("Z")
    assert [link["rel"] for link in body["links"]] == ["self", "bookmark", "alternate"]
    assert "server" not in body


def test_queued_image_is_saving(member, make_image):
    image = make_image(member)
    body = member.client.get(f"{IMAGES}/{image.pk}").json()["image"]
    assert (body["status"], body["progress"]) == ("SAVING", 25)


def test_list_is_id_name_links_and_filters_by_nova_names(member, make_image):
    # given: a snapshot of a server and a plain image
    server_id = "8f2c55f4-4c4e-4a8e-9d6b-6e4a2b0cbe21"
    snapshot = make_image(
        member, data=b"s", name="snap", image_type="snapshot", instance_uuid=server_id
    )
    plain = make_image(member, data=b"p", name="plain")
    # when
    listed = member.client.get(IMAGES).json()["images"]
    by_server = member.client.get(
        f"{IMAGES}/detail", {"server": f"http://x/servers/{server_id}"}
    ).json()["images"]
    by_type = member.client.get(IMAGES, {"type": "snapshot"}).json()["images"]
    by_name = member.client.get(IMAGES, {"name": "plain", "status": "ACTIVE"}).json()["images"]
    # then
    assert {tuple(sorted(i)) for i in listed} == {("id", "links", "name")}
    assert [i["id"] for i in by_server] == [str(snapshot.pk)]
    assert by_server[0]["server"]["id"] == server_id
    assert [i["id"] for i in by_type] == [str(snapshot.pk)]
    assert [i["id"] for i in by_name] == [str(plain.pk)]


def test_list_pages_with_limit_and_marker(member, make_image):
    images = [make_image(member, data=b"i", name=f"i{n}") for n in range(3)]
    first = member.client.get(IMAGES, {"limit": 2}).json()
    assert [i["id"] for i in first["images"]] == [str(images[2].pk), str(images[1].pk)]
    assert first["images_links"][0]["rel"] == "next"
    rest = member.client.get(IMAGES, {"limit": 2, "marker": str(images[1].pk)}).json()
    assert [i["id"] for i in rest["images"]] == [str(images[0].pk)]


def test_gone_from_2_36(member, make_image):
    image = make_image(member)
    assert member.client.get(IMAGES, **V236).status_code == 404
    assert member.client.get(f"{IMAGES}/{image.pk}", **V236).status_code == 404


def test_other_projects_private_image_is_not_found(member, make_caller, make_image):
    other = make_caller("member")
    image = make_image(other, visibility="private")
    response = member.client.get(f"{IMAGES}/{image.pk}")
    assert response.status_code == 404
    assert "itemNotFound" in response.json()
    assert member.client.get(f"{IMAGES}/not-a-uuid").status_code == 404
    assert member.client.delete(f"{IMAGES}/").status_code == 404


def test_delete_by_owner_and_refused_to_others(member, make_caller, make_image):
    image = make_image(member, data=b"d", visibility="public")
    other = make_caller("member")
    assert other.client.delete(f"{IMAGES}/{image.pk}").status_code == 403
    assert member.client.delete(f"{IMAGES}/{image.pk}").status_code == 204
    assert not Image.objects.filter(pk=image.pk).exists()


def test_metadata_round_trip(member, make_image):
    image = make_image(member, data=b"m", os_distro="tinyos")
    url = f"{IMAGES}/{image.pk}/metadata"
    # merge
    merged = member.client.post(url, {"metadata": {"a": "1"}}, format="json")
    assert merged.json() == {"metadata": {"os_distro": "tinyos", "a": "1"}}
    # replace all
    replaced = member.client.put(url, {"metadata": {"b": "2"}}, format="json")
    assert replaced.json() == {"metadata": {"b": "2"}}
    # one item
    item = member.client.put(f"{url}/c", {"meta": {"c": "3"}}, format="json")
    assert item.json() == {"meta": {"c": "3"}}
    assert member.client.get(f"{url}/c").json() == {"meta": {"c": "3"}}
    assert member.client.delete(f"{url}/c").status_code == 204
    assert member.client.get(f"{url}/c").status_code == 404
    assert member.client.get(url).json() == {"metadata": {"b": "2"}}


def test_metadata_item_body_must_match_the_uri(member, make_image):
    image = make_image(member)
    url = f"{IMAGES}/{image.pk}/metadata/c"
    assert member.client.put(url, {"meta": {"d": "3"}}, format="json").status_code == 400


def test_metadata_of_a_missing_image_is_404(member):
    url = f"{IMAGES}/9b9dc1a4-8f6d-4d25-9b4c-2f6b0f4d7d11/metadata"
    assert member.client.get(url).status_code == 404
    assert member.client.post(url, {"metadata": {"a": "1"}}, format="json").status_code == 404

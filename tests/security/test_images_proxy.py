"""Issue 13, item 1: the Compute API's image metadata is properties only.

Through ``/compute/v2.1/images/{id}/metadata`` a member could set base attributes: make its
private image public, or plant it in another project (``owner``). Every write path of the
proxy is attacked here with base, read-only and reserved names; each must be a 400 in
Nova's error format and leave the image exactly as it was. The Glance API's PATCH is
attacked the same way (publicize and owner changes stay behind their policy).
"""

import json
from typing import Any

import pytest

from apps.images.choices import BASE_ATTRIBUTES, READ_ONLY_ATTRIBUTES, RESERVED_ATTRIBUTES
from apps.images.models import Image
from tests.conftest import Caller

pytestmark = pytest.mark.django_db

COMPUTE_IMAGES = "/compute/v2.1/images"
GLANCE_IMAGES = "/image/v2/images"
PATCH = "application/openstack-images-v2.1-json-patch"
# Every name the image API keeps for itself, plus Glance's reserved prefix.
ATTRIBUTE_NAMES = sorted(
    BASE_ATTRIBUTES | READ_ONLY_ATTRIBUTES | RESERVED_ATTRIBUTES | {"os_glance_import_task"}
)


def _private_image(owner: Caller) -> str:
    response = owner.client.post(
        GLANCE_IMAGES,
        {
            "name": "private-base",
            "visibility": "private",
            "disk_format": "qcow2",
            "container_format": "bare",
            "min_ram": 64,
            "os_distro": "tinyos",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    image_id: str = response.json()["id"]
    return image_id


def _state(image_id: str) -> dict[str, Any]:
    """Everything stored about the image, to prove an attack changed nothing."""
    return dict(Image.objects.filter(pk=image_id).values().get())


def _assert_bad_request(response: Any, key: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["badRequest"]["code"] == 400
    assert key in body["badRequest"]["message"]


@pytest.fixture
def victim_image(member: Caller) -> str:
    return _private_image(member)


def test_metadata_cannot_make_a_private_image_public(
    member: Caller, make_caller: Any, victim_image: str
) -> None:
    # given
    outsider = make_caller("member")
    before = _state(victim_image)
    # when
    response = member.client.post(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata",
        {"metadata": {"visibility": "public"}},
        format="json",
    )
    # then
    _assert_bad_request(response, "visibility")
    assert _state(victim_image) == before
    assert outsider.client.get(f"{COMPUTE_IMAGES}/{victim_image}").status_code == 404
    assert outsider.client.get(f"{GLANCE_IMAGES}/{victim_image}").status_code == 404


def test_metadata_cannot_plant_an_image_in_another_project(
    member: Caller, make_caller: Any, victim_image: str
) -> None:
    # given
    target = make_caller("member")
    before = _state(victim_image)
    # when
    response = member.client.post(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata",
        {"metadata": {"owner": target.project.id}},
        format="json",
    )
    # then
    _assert_bad_request(response, "owner")
    assert _state(victim_image) == before
    assert Image.objects.get(pk=victim_image).owner_id == member.project.id
    listed = target.client.get(GLANCE_IMAGES).json()["images"]
    assert victim_image not in [image["id"] for image in listed]


@pytest.mark.parametrize("key", ATTRIBUTE_NAMES)
def test_merge_with_an_attribute_name_is_refused(
    member: Caller, victim_image: str, key: str
) -> None:
    before = _state(victim_image)
    response = member.client.post(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata",
        {"metadata": {"harmless": "yes", key: "1"}},
        format="json",
    )
    _assert_bad_request(response, key)
    assert _state(victim_image) == before


@pytest.mark.parametrize("key", ATTRIBUTE_NAMES)
def test_replace_all_with_an_attribute_name_is_refused(
    member: Caller, victim_image: str, key: str
) -> None:
    before = _state(victim_image)
    response = member.client.put(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata",
        {"metadata": {key: "public"}},
        format="json",
    )
    _assert_bad_request(response, key)
    assert _state(victim_image) == before


@pytest.mark.parametrize("key", ATTRIBUTE_NAMES)
def test_set_one_item_with_an_attribute_name_is_refused(
    member: Caller, victim_image: str, key: str
) -> None:
    before = _state(victim_image)
    response = member.client.put(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata/{key}",
        {"meta": {key: "0"}},
        format="json",
    )
    _assert_bad_request(response, key)
    assert _state(victim_image) == before


@pytest.mark.parametrize("key", ["visibility", "owner", "min_ram", "protected", "name"])
def test_delete_one_item_with_an_attribute_name_is_refused(
    member: Caller, victim_image: str, key: str
) -> None:
    before = _state(victim_image)
    response = member.client.delete(f"{COMPUTE_IMAGES}/{victim_image}/metadata/{key}")
    _assert_bad_request(response, key)
    assert _state(victim_image) == before


@pytest.mark.parametrize("value", ["lots", "-1", "1e9", ""])
def test_a_non_numeric_min_ram_is_a_400_not_a_500(
    member: Caller, victim_image: str, value: str
) -> None:
    before = _state(victim_image)
    response = member.client.post(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata",
        {"metadata": {"min_ram": value}},
        format="json",
    )
    _assert_bad_request(response, "min_ram")
    assert _state(victim_image) == before


def test_an_admin_cannot_publicize_through_metadata_either(
    admin: Caller, member: Caller, victim_image: str
) -> None:
    # Publicizing is the image API's business (image:publicize_image), never metadata's.
    before = _state(victim_image)
    response = admin.client.post(
        f"{COMPUTE_IMAGES}/{victim_image}/metadata",
        {"metadata": {"visibility": "public"}},
        format="json",
    )
    _assert_bad_request(response, "visibility")
    assert _state(victim_image) == before


def test_properties_still_change_through_metadata(member: Caller, victim_image: str) -> None:
    url = f"{COMPUTE_IMAGES}/{victim_image}/metadata"
    response = member.client.post(url, {"metadata": {"hw_disk_bus": "virtio"}}, format="json")
    assert response.status_code == 200
    assert response.json()["metadata"] == {"os_distro": "tinyos", "hw_disk_bus": "virtio"}
    image = Image.objects.get(pk=victim_image)
    assert (image.visibility, image.owner_id) == ("private", member.project.id)


# --- the Glance API's PATCH keeps its policy -----------------------------------------------


def _patch(caller: Caller, image_id: str, operations: list[dict[str, Any]]) -> Any:
    return caller.client.patch(
        f"{GLANCE_IMAGES}/{image_id}", json.dumps(operations), content_type=PATCH
    )


def test_patch_cannot_publicize_without_the_policy(member: Caller, victim_image: str) -> None:
    before = _state(victim_image)
    response = _patch(
        member, victim_image, [{"op": "replace", "path": "/visibility", "value": "public"}]
    )
    assert response.status_code == 403
    assert _state(victim_image) == before


def test_patch_cannot_hand_an_image_to_another_project(
    member: Caller, make_caller: Any, victim_image: str
) -> None:
    target = make_caller("member")
    before = _state(victim_image)
    response = _patch(
        member, victim_image, [{"op": "replace", "path": "/owner", "value": target.project.id}]
    )
    assert response.status_code == 403
    assert _state(victim_image) == before


@pytest.mark.parametrize("path", ["status", "size", "checksum", "id", "os_hash_value"])
def test_patch_cannot_write_computed_attributes(
    member: Caller, victim_image: str, path: str
) -> None:
    before = _state(victim_image)
    response = _patch(member, victim_image, [{"op": "replace", "path": f"/{path}", "value": "x"}])
    assert response.status_code == 403
    assert _state(victim_image) == before


def test_patch_with_a_non_numeric_min_ram_is_a_400(member: Caller, victim_image: str) -> None:
    before = _state(victim_image)
    response = _patch(
        member, victim_image, [{"op": "replace", "path": "/min_ram", "value": "lots"}]
    )
    assert response.status_code == 400
    assert _state(victim_image) == before

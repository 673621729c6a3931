"""Image API (Glance v2 subset): discovery, create, show, visibility across projects, list
filters and paging, JSON-patch updates, delete."""

import json
import uuid

import pytest

from apps.images.models import Image
from tests.images.conftest import IMAGES, PATCH


def error_message(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == response.status_code
    return body["error"]["message"]


# --- discovery -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/image", "/image/"])
def test_root_lists_versions_without_a_token(anonymous, settings, path):
    # when
    response = anonymous.get(path)
    # then
    assert response.status_code == 300
    versions = response.json()["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert [v["id"] for v in current] == ["v2.7"]
    assert current[0]["links"] == [{"rel": "self", "href": f"{settings.PUBLIC_URL}/image/v2/"}]
    assert {v["id"] for v in versions} >= {"v2.0", "v2.1", "v2.6"}


@pytest.mark.parametrize("path", ["/image/v2", "/image/v2/", "/image/versions"])
def test_versioned_paths_answer_the_versions_document_with_200(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.json()["versions"][0]["id"] == "v2.7"


def test_schemas_are_served(member):
    image = member.client.get("/image/v2/schemas/image").json()
    images = member.client.get("/image/v2/schemas/images").json()
    assert image["name"] == "image"
    assert image["additionalProperties"] == {"type": "string"}
    assert images["properties"]["images"]["items"]["name"] == "image"


def test_import_info_lists_no_import_methods(member):
    response = member.client.get("/image/v2/info/import")
    assert response.status_code == 200
    assert response.json()["import-methods"]["value"] == []


def test_image_api_needs_a_token(anonymous):
    response = anonymous.get(IMAGES)
    assert response.status_code == 401
    assert "requires authentication" in error_message(response)
    assert response["WWW-Authenticate"].startswith("Keystone uri=")


# --- create ----------------------------------------------------------------------------------


def test_create_answers_201_with_the_glance_body(member, settings):
    # given
    body = {
        "name": "cirros",
        "disk_format": "qcow2",
        "container_format": "bare",
        "min_ram": 64,
        "tags": ["a", "b", "a"],
        "hw_disk_bus": "virtio",
        "os_distro": "cirros",
    }
    # when
    response = member.client.post(IMAGES, body, format="json")
    # then
    assert response.status_code == 201
    image = response.json()
    assert response["Location"] == f"{settings.PUBLIC_URL}/image/v2/images/{image['id']}"
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["owner"] == member.project.pk
    assert image["protected"] is False
    assert image["os_hidden"] is False
    assert image["min_ram"] == 64
    assert image["min_disk"] == 0
    assert image["tags"] == ["a", "b"]
    assert image["hw_disk_bus"] == "virtio"
    assert image["os_distro"] == "cirros"
    for unset in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"):
        assert image[unset] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert image["created_at"].endswith("Z")
    assert "OpenStack-image-import-methods" not in response


def test_create_with_a_chosen_id_and_again_is_409(member):
    image_id = str(uuid.uuid4())
    first = member.client.post(IMAGES, {"id": image_id, "name": "x"}, format="json")
    second = member.client.post(IMAGES, {"id": image_id, "name": "y"}, format="json")
    assert first.status_code == 201
    assert first.json()["id"] == image_id
    assert second.status_code == 409


@pytest.mark.parametrize("attribute", ["checksum", "size", "status", "os_hash_value", "self"])
def test_create_refuses_read_only_attributes(member, attribute):
    response = member.client.post(IMAGES, {"name": "x", attribute: "1"}, format="json")
    assert response.status_code == 403
    assert error_message(response) == f"Attribute '{attribute}' is read-only."


@pytest.mark.parametrize("attribute", ["os_glance_import_task", "deleted", "location"])
def test_create_refuses_reserved_attributes(member, attribute):
    response = member.client.post(IMAGES, {attribute: "1"}, format="json")
    assert response.status_code == 403
    assert error_message(response) == f"Attribute '{attribute}' is reserved."


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"disk_format": "floppy"}, "disk_format"),
        ({"container_format": "zip"}, "container_format"),
        ({"visibility": "everyone"}, "visibility"),
        ({"min_disk": -1}, "min_disk"),
        ({"name": "n" * 256}, "name"),
        ({"hw_disk_bus": 7}, "hw_disk_bus"),
        ({"id": "not-a-uuid"}, "id"),
    ],
)
def test_create_refuses_invalid_values_with_400_naming_them(member, body, named):
    response = member.client.post(IMAGES, body, format="json")
    assert response.status_code == 400
    assert named in error_message(response)


def test_member_cannot_create_a_public_image_but_admin_can(member, admin):
    refused = member.client.post(IMAGES, {"visibility": "public"}, format="json")
    allowed = admin.client.post(IMAGES, {"visibility": "public"}, format="json")
    assert refused.status_code == 403
    assert "image:publicize_image" in error_message(refused)
    assert allowed.status_code == 201
    assert allowed.json()["visibility"] == "public"


def test_reader_cannot_create(reader):
    response = reader.client.post(IMAGES, {"name": "x"}, format="json")
    assert response.status_code == 403


def test_owner_of_another_project_is_refused_to_a_member_and_allowed_to_admin(member, admin):
    refused = member.client.post(IMAGES, {"owner": admin.project.pk}, format="json")
    allowed = admin.client.post(IMAGES, {"owner": member.project.pk}, format="json")
    assert refused.status_code == 403
    assert allowed.status_code == 201
    assert allowed.json()["owner"] == member.project.pk


# --- show and visibility ---------------------------------------------------------------------


def test_owner_shows_its_image(member, make_image):
    image = make_image(member, name="mine", hw_qemu_guest_agent="yes")
    response = member.client.get(f"{IMAGES}/{image.pk}")
    assert response.status_code == 200
    assert response.json()["name"] == "mine"


@pytest.mark.parametrize(
    ("visibility", "status"),
    [
        ("private", 404),
        ("shared", 404),
        ("public", 200),
        ("community", 200),
    ],
)
def test_another_projects_image_is_visible_only_when_public_or_community(
    member, make_caller, make_image, visibility, status
):
    # given
    other = make_caller("member")
    image = make_image(other, visibility=visibility)
    # when
    response = member.client.get(f"{IMAGES}/{image.pk}")
    # then
    assert response.status_code == status
    if status == 404:
        assert str(image.pk) in error_message(response)


def test_admin_sees_any_projects_private_image(admin, member, make_image):
    image = make_image(member, visibility="private")
    assert admin.client.get(f"{IMAGES}/{image.pk}").status_code == 200


@pytest.mark.parametrize("image_id", ["cirros", "1234", str(uuid.uuid4())])
def test_unknown_or_malformed_id_is_404(member, image_id):
    assert member.client.get(f"{IMAGES}/{image_id}").status_code == 404


# --- list ------------------------------------------------------------------------------------


def listed(caller, query: str = "") -> list[str]:
    response = caller.client.get(f"{IMAGES}{query}")
    assert response.status_code == 200, response.content
    return [image["name"] for image in response.json()["images"]]


def test_default_list_shows_own_and_public_but_not_others_private_community_or_hidden(
    member, make_caller, make_image
):
    # given
    other = make_caller("member")
    make_image(member, name="own-private", visibility="private")
    make_image(member, name="own-community", visibility="community")
    make_image(member, name="own-hidden", os_hidden=True)
    make_image(other, name="other-public", visibility="public")
    make_image(other, name="other-private", visibility="private")
    make_image(other, name="other-shared", visibility="shared")
    make_image(other, name="other-community", visibility="community")
    # when
    names = set(listed(member))
    # then
    assert names == {"own-private", "own-community", "other-public"}
    assert set(listed(member, "?visibility=community")) == {"own-community", "other-community"}
    assert set(listed(member, "?visibility=all")) == {
        "own-private",
        "own-community",
        "other-public",
        "other-community",
    }
    assert listed(member, "?visibility=private") == ["own-private"]
    assert listed(member, "?os_hidden=true") == ["own-hidden"]


def test_admin_default_list_shows_every_project(admin, member, make_image):
    make_image(member, name="theirs", visibility="private")
    make_image(admin, name="ours")
    assert set(listed(admin)) == {"theirs", "ours"}


def test_list_filters(member, make_image):
    # given
    make_image(member, name="a", disk_format="qcow2", tags=["x", "y"], hw_disk_bus="virtio")
    make_image(member, name="b", disk_format="raw", tags=["x"], data=b"12345")
    make_image(member, name="c", container_format="ova", protected=True, data=b"1" * 50)
    # then
    assert listed(member, "?name=a") == ["a"]
    assert listed(member, "?disk_format=qcow2") == ["a"]
    assert listed(member, "?container_format=ova") == ["c"]
    assert sorted(listed(member, "?status=active")) == ["b", "c"]
    assert sorted(listed(member, "?tag=x")) == ["a", "b"]
    assert listed(member, "?tag=x&tag=y") == ["a"]
    assert listed(member, "?size_min=10") == ["c"]
    assert listed(member, "?size_max=10") == ["b"]
    assert listed(member, "?protected=true") == ["c"]
    assert listed(member, f"?owner={member.project.pk}&name=b") == ["b"]
    assert listed(member, "?hw_disk_bus=virtio") == ["a"]


def test_invalid_visibility_filter_is_400(member):
    response = member.client.get(f"{IMAGES}?visibility=everyone")
    assert response.status_code == 400
    assert "Invalid visibility value: everyone" in error_message(response)


def test_paging_follows_next_links_through_every_image_once(
    member, make_image, django_assert_max_num_queries
):
    # given
    created = {str(make_image(member, name=f"img-{i:02d}").pk) for i in range(7)}
    seen: list[str] = []
    url = f"{IMAGES}?limit=3"
    # when
    while url:
        with django_assert_max_num_queries(8):
            body = member.client.get(url).json()
        assert body["schema"] == "/v2/schemas/images"
        assert body["first"] == "/v2/images?limit=3"
        seen += [image["id"] for image in body["images"]]
        url = "/image" + body["next"] if "next" in body else None
    # then
    assert len(seen) == 7
    assert set(seen) == created


def test_sorting_by_name_in_both_syntaxes(member, make_image):
    for name in ["b", "c", "a"]:
        make_image(member, name=name)
    assert listed(member, "?sort=name:asc") == ["a", "b", "c"]
    assert listed(member, "?sort_key=name&sort_dir=desc") == ["c", "b", "a"]


def test_paging_with_a_sort_key_and_nulls_keeps_order(member, make_image):
    # given: sizes with nulls (queued images) among them
    for name, data in [("n1", None), ("s3", b"333"), ("n2", None), ("s1", b"1"), ("s2", b"22")]:
        make_image(member, name=name, data=data)
    pages, url = [], f"{IMAGES}?sort=size:asc&limit=2"
    # when
    while url:
        body = member.client.get(url).json()
        pages += [image["name"] for image in body["images"]]
        url = "/image" + body["next"] if "next" in body else None
    # then
    assert pages[2:] == ["s1", "s2", "s3"]
    assert set(pages[:2]) == {"n1", "n2"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?sort_key=owner", "Invalid sort key: owner"),
        ("?sort=name:sideways", "Invalid sort direction: sideways"),
        ("?sort=name&sort_key=name", "Old and new sorting syntax cannot be combined"),
        ("?limit=ten", "limit param must be an integer"),
        ("?limit=-1", "limit param must be positive"),
        (f"?marker={uuid.uuid4()}", "Invalid marker"),
    ],
)
def test_bad_list_parameters_are_400(member, query, message):
    response = member.client.get(f"{IMAGES}{query}")
    assert response.status_code == 400
    assert message in error_message(response)


# --- update (JSON patch) ---------------------------------------------------------------------


def patch(caller, image, operations, content_type=PATCH):
    return caller.client.patch(
        f"{IMAGES}/{image.pk}", json.dumps(operations), content_type=content_type
    )


def test_patch_replaces_attributes_and_adds_and_removes_properties(member, make_image):
    # given
    image = make_image(member, name="old", os_type="linux")
    operations = [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "add", "path": "/min_ram", "value": 256},
        {"op": "replace", "path": "/tags", "value": ["t1", "t2"]},
        {"op": "remove", "path": "/os_type"},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "add", "path": "/a~1b", "value": "slash"},
    ]
    # when
    response = patch(member, image, operations)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "new"
    assert body["hw_disk_bus"] == "scsi"
    assert body["min_ram"] == 256
    assert body["tags"] == ["t1", "t2"]
    assert body["protected"] is True
    assert body["a/b"] == "slash"
    assert "os_type" not in body
    assert member.client.get(f"{IMAGES}/{image.pk}").json()["name"] == "new"


def test_patch_add_replaces_an_existing_property(member, make_image):
    image = make_image(member, os_distro="a")
    response = patch(member, image, [{"op": "add", "path": "/os_distro", "value": "b"}])
    assert response.json()["os_distro"] == "b"


def test_patch_in_the_v2_0_draft_4_style(member, make_image):
    image = make_image(member)
    response = patch(
        member,
        image,
        [{"replace": "/name", "value": "d4"}],
        content_type="application/openstack-images-v2.0-json-patch",
    )
    assert response.status_code == 200
    assert response.json()["name"] == "d4"


@pytest.mark.parametrize(
    ("operation", "status", "message"),
    [
        ({"op": "replace", "path": "/nope", "value": "x"}, 409, "Property nope does not exist."),
        ({"op": "remove", "path": "/nope"}, 409, "Property nope does not exist."),
        ({"op": "replace", "path": "/size", "value": 1}, 403, "Attribute 'size' is read-only."),
        ({"op": "remove", "path": "/name"}, 403, "Attribute 'name' is read-only."),
        ({"op": "add", "path": "/os_glance_x", "value": "1"}, 403, "is reserved"),
        ({"op": "move", "path": "/name", "value": "x"}, 400, "Invalid operation: `move`"),
        ({"op": "add", "path": "/a/b", "value": "x"}, 400, "Invalid JSON pointer"),
        ({"op": "add", "path": "name", "value": "x"}, 400, 'does not start with "/"'),
        ({"op": "add", "path": "/name"}, 400, 'requires a member named "value"'),
        ({"op": "replace", "path": "/min_disk", "value": "lots"}, 400, "min_disk"),
        ({"op": "add", "path": "/hw_disk_bus", "value": 3}, 400, "must be a string"),
    ],
)
def test_patch_refusals(member, make_image, operation, status, message):
    # given
    image = make_image(member, name="keep")
    # when
    response = patch(member, image, [{"op": "add", "path": "/ok", "value": "1"}, operation])
    # then
    assert response.status_code == status
    assert message in error_message(response)
    unchanged = member.client.get(f"{IMAGES}/{image.pk}").json()
    assert unchanged["name"] == "keep"
    assert "ok" not in unchanged


def test_patch_with_plain_json_is_415_naming_the_patch_types(member, make_image):
    image = make_image(member)
    response = patch(
        member, image, [{"op": "replace", "path": "/name", "value": "x"}], "application/json"
    )
    assert response.status_code == 415
    assert PATCH in response["Accept-Patch"]


def test_disk_format_is_fixed_once_data_is_uploaded(member, make_image):
    image = make_image(member, data=b"data")
    response = patch(member, image, [{"op": "replace", "path": "/disk_format", "value": "iso"}])
    assert response.status_code == 403
    assert "queued" in error_message(response)


def test_member_cannot_publicize_and_admin_can(member, admin, make_image):
    image = make_image(member)
    operation = [{"op": "replace", "path": "/visibility", "value": "public"}]
    assert patch(member, image, operation).status_code == 403
    assert patch(admin, image, operation).json()["visibility"] == "public"


def test_visible_image_of_another_project_cannot_be_changed(member, make_caller, make_image):
    other = make_caller("member")
    image = make_image(other, visibility="community")
    response = patch(member, image, [{"op": "replace", "path": "/name", "value": "mine"}])
    assert response.status_code == 403


def test_reader_cannot_patch(reader, member, make_image):
    image = make_image(member)
    response = patch(reader, image, [{"op": "replace", "path": "/name", "value": "x"}])
    assert response.status_code == 403


# --- delete ----------------------------------------------------------------------------------


def test_delete_removes_the_image_and_its_data(
    member, make_image, image_state_dir, django_capture_on_commit_callbacks
):
    # given
    image = make_image(member, data=b"bytes")
    assert (image_state_dir / str(image.pk)).exists()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = member.client.delete(f"{IMAGES}/{image.pk}")
    # then
    assert response.status_code == 204
    assert member.client.get(f"{IMAGES}/{image.pk}").status_code == 404
    assert not (image_state_dir / str(image.pk)).exists()


def test_protected_image_cannot_be_deleted(member, make_image):
    image = make_image(member, protected=True)
    response = member.client.delete(f"{IMAGES}/{image.pk}")
    assert response.status_code == 403
    assert error_message(response) == f"Image {image.pk} is protected and cannot be deleted."
    assert Image.objects.filter(pk=image.pk).exists()


def test_another_projects_private_image_cannot_be_deleted(member, make_caller, make_image):
    other = make_caller("member")
    private = make_image(other, visibility="private")
    public = make_image(other, visibility="public")
    assert member.client.delete(f"{IMAGES}/{private.pk}").status_code == 404
    assert member.client.delete(f"{IMAGES}/{public.pk}").status_code == 403
    assert Image.objects.filter(pk__in=[private.pk, public.pk]).count() == 2


# --- import ----------------------------------------------------------------------------------


def test_import_is_refused_as_an_unknown_method(member, make_image):
    image = make_image(member)
    response = member.client.post(
        f"{IMAGES}/{image.pk}/import", {"method": {"name": "glance-direct"}}, format="json"
    )
    assert response.status_code == 400
    assert error_message(response) == "Unknown import method name 'glance-direct'."


def test_an_image_has_no_import_tasks(member, make_caller, make_image):
    image = make_image(member)
    assert member.client.get(f"{IMAGES}/{image.pk}/tasks").json() == {"tasks": []}
    other = make_caller("member")
    assert other.client.get(f"{IMAGES}/{image.pk}/tasks").status_code == 404


def test_put_on_an_image_is_405(member, make_image):
    image = make_image(member)
    response = member.client.put(f"{IMAGES}/{image.pk}", {"name": "x"}, format="json")
    assert response.status_code == 405

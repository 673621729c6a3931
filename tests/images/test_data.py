"""Image data: upload and download round trips, checksums, disk-format inspection, and signed
URLs for callers without a token."""

import base64
import hashlib
import time
import urllib.parse

import pytest

from apps.images import services
from apps.images.models import Image
from tests.images.conftest import IMAGES, md5, qemu_img_create, sha512

OCTETS = "application/octet-stream"


def put_file(client, image, data: bytes, url: str | None = None, **headers):
    return client.put(url or f"{IMAGES}/{image.pk}/file", data, content_type=OCTETS, **headers)


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def test_upload_then_download_round_trip_with_checksums(member, make_image, image_state_dir):
    # given
    image = make_image(member)
    data = bytes(range(256)) * 4099
    # when
    uploaded = put_file(member.client, image, data)
    # then
    assert uploaded.status_code == 204
    shown = member.client.get(f"{IMAGES}/{image.pk}").json()
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["virtual_size"] == len(data)  # raw: the disk is the data
    assert shown["checksum"] == md5(data)
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == sha512(data)
    downloaded = member.client.get(f"{IMAGES}/{image.pk}/file")
    assert downloaded.status_code == 200
    assert downloaded["Content-Type"] == OCTETS
    assert downloaded["Content-MD5"] == md5(data)
    assert downloaded["Content-Length"] == str(len(data))
    assert content(downloaded) == data
    assert (image_state_dir / str(image.pk)).read_bytes() == data
    assert [p.name for p in image_state_dir.iterdir()] == [str(image.pk)]  # no temp files


def test_empty_upload_makes_an_active_empty_image(member, make_image):
    image = make_image(member)
    assert put_file(member.client, image, b"").status_code == 204
    shown = member.client.get(f"{IMAGES}/{image.pk}").json()
    assert (shown["status"], shown["size"], shown["checksum"]) == ("active", 0, md5(b""))


def test_second_upload_is_409(member, make_image):
    image = make_image(member, data=b"first")
    response = put_file(member.client, image, b"second")
    assert response.status_code == 409
    assert "from active to saving" in response.json()["error"]["message"]
    assert content(member.client.get(f"{IMAGES}/{image.pk}/file")) == b"first"


def test_upload_with_another_content_type_is_415(member, make_image):
    image = make_image(member)
    response = member.client.put(
        f"{IMAGES}/{image.pk}/file", b"{}", content_type="application/json"
    )
    assert response.status_code == 415
    assert Image.objects.get(pk=image.pk).status == "queued"


@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_CONTENT_MD5": "0" * 32},
        {"HTTP_CONTENT_MD5": base64.b64encode(b"\0" * 16).decode()},
        {"HTTP_X_IMAGE_META_CHECKSUM": "f" * 32},
    ],
)
def test_checksum_mismatch_is_refused_and_the_image_stays_queued_without_data(
    member, make_image, image_state_dir, header
):
    # given
    image = make_image(member)
    # when
    response = put_file(member.client, image, b"payload", **header)
    # then
    assert response.status_code == 400
    assert "Checksum verification failed" in response.json()["error"]["message"]
    shown = member.client.get(f"{IMAGES}/{image.pk}").json()
    assert shown["status"] == "queued"
    assert shown["checksum"] is None
    assert list(image_state_dir.iterdir()) == []
    assert member.client.get(f"{IMAGES}/{image.pk}/file").status_code == 204


@pytest.mark.parametrize("encode", [str, lambda h: base64.b64encode(bytes.fromhex(h)).decode()])
def test_matching_content_md5_is_accepted_in_hex_or_base64(member, make_image, encode):
    image = make_image(member)
    response = put_file(member.client, image, b"payload", HTTP_CONTENT_MD5=encode(md5(b"payload")))
    assert response.status_code == 204


def test_owner_stated_digests_are_verified(member, make_image):
    # given: openstacksdk's properties when it validates checksums
    good = make_image(
        member,
        **{
            "owner_specified.openstack.md5": md5(b"abc"),
            "owner_specified.openstack.sha256": hashlib.sha256(b"abc").hexdigest(),
        },
    )
    bad = make_image(member, **{"owner_specified.openstack.sha256": "0" * 64})
    # when
    accepted = put_file(member.client, good, b"abc")
    refused = put_file(member.client, bad, b"abc")
    # then
    assert accepted.status_code == 204
    assert refused.status_code == 400
    assert "sha256 verification failed" in refused.json()["error"]["message"]
    assert Image.objects.get(pk=bad.pk).status == "queued"


def test_refused_upload_may_be_retried(member, make_image):
    image = make_image(member)
    assert put_file(member.client, image, b"x", HTTP_CONTENT_MD5="0" * 32).status_code == 400
    assert put_file(member.client, image, b"x").status_code == 204
    assert Image.objects.get(pk=image.pk).status == "active"


def test_download_of_an_image_without_data_is_204(member, make_image):
    image = make_image(member)
    response = member.client.get(f"{IMAGES}/{image.pk}/file")
    assert response.status_code == 204
    assert response.content == b""


def test_reader_downloads_but_cannot_upload(member, reader, make_image):
    queued = make_image(member)
    active = make_image(member, data=b"readable")
    assert put_file(reader.client, queued, b"x").status_code == 403
    assert content(reader.client.get(f"{IMAGES}/{active.pk}/file")) == b"readable"


def test_public_image_of_another_project_downloads_but_takes_no_upload(
    member, make_caller, make_image
):
    other = make_caller("member")
    public_active = make_image(other, visibility="public", data=b"shared bytes")
    public_queued = make_image(other, visibility="public")
    private = make_image(other, visibility="private", data=b"secret")
    assert content(member.client.get(f"{IMAGES}/{public_active.pk}/file")) == b"shared bytes"
    assert put_file(member.client, public_queued, b"x").status_code == 403
    assert member.client.get(f"{IMAGES}/{private.pk}/file").status_code == 404
    assert put_file(member.client, private, b"x").status_code == 404


# --- disk format inspection --------------------------------------------------------------


def test_qcow2_upload_gets_its_virtual_size(member, make_image, tmp_path):
    # given
    disk = qemu_img_create(tmp_path / "disk.qcow2", size="64M")
    image = make_image(member, disk_format="qcow2")
    # when
    response = put_file(member.client, image, disk.read_bytes())
    # then
    assert response.status_code == 204
    shown = member.client.get(f"{IMAGES}/{image.pk}").json()
    assert shown["virtual_size"] == 64 * 1024 * 1024
    assert shown["size"] == disk.stat().st_size


@pytest.mark.parametrize("declared", ["raw", "vmdk"])
def test_content_that_is_not_the_declared_format_is_refused(member, make_image, tmp_path, declared):
    disk = qemu_img_create(tmp_path / "disk.qcow2")
    image = make_image(member, disk_format=declared)
    response = put_file(member.client, image, disk.read_bytes())
    assert response.status_code == 400
    assert "does not match disk_format" in response.json()["error"]["message"]
    assert Image.objects.get(pk=image.pk).status == "queued"


def test_qcow2_with_a_backing_file_is_refused(member, make_image, tmp_path):
    # given: a qcow2 pointing at a host file
    secret = tmp_path / "host-secret.raw"
    secret.write_bytes(b"\0" * 1024 * 1024)
    disk = qemu_img_create(tmp_path / "overlay.qcow2", size="1M", backing=secret)
    image = make_image(member, disk_format="qcow2")
    # when
    response = put_file(member.client, image, disk.read_bytes())
    # then
    assert response.status_code == 400
    assert "backing file" in response.json()["error"]["message"]


def test_formats_qemu_img_cannot_vouch_for_are_stored_unchecked(member, make_image):
    image = make_image(member, disk_format="iso")
    assert put_file(member.client, image, b"CD001 not really").status_code == 204
    assert member.client.get(f"{IMAGES}/{image.pk}").json()["virtual_size"] is None


# --- signed URLs -------------------------------------------------------------------------


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_download_url_works_without_a_token(anonymous, member, make_image, settings):
    # given
    image = make_image(member, visibility="private", data=b"for the host")
    url = services.signed_download_url(image_id=image.id)
    # when
    response = anonymous.get(path_of(url))
    # then
    assert url.startswith(f"{settings.PUBLIC_URL}/image/v2/images/{image.pk}/file?")
    assert response.status_code == 200
    assert content(response) == b"for the host"
    assert response["Content-MD5"] == md5(b"for the host")


def test_expired_signed_url_is_refused(anonymous, member, make_image):
    image = make_image(member, data=b"x")
    url = services.signed_download_url(image_id=image.id, ttl=-1)
    response = anonymous.get(path_of(url))
    assert response.status_code == 403
    assert "invalid or has expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "forge",
    [
        lambda q: {**q, "sig": "0" * 64},
        lambda q: {**q, "expires": str(int(q["expires"]) + 3600)},
        lambda q: {key: value for key, value in q.items() if key != "expires"},
        lambda q: {**q, "expires": "soon"},
    ],
)
def test_forged_signed_url_is_refused(anonymous, member, make_image, forge):
    image = make_image(member, data=b"x")
    url = services.signed_download_url(image_id=image.id)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    forged = f"{IMAGES}/{image.pk}/file?{urllib.parse.urlencode(forge(query))}"
    assert anonymous.get(forged).status_code == 403


def test_signature_is_bound_to_the_image(anonymous, member, make_image):
    signed_for = make_image(member, data=b"a")
    other = make_image(member, data=b"b")
    query = urllib.parse.urlsplit(services.signed_download_url(image_id=signed_for.id)).query
    assert anonymous.get(f"{IMAGES}/{other.pk}/file?{query}").status_code == 403


def test_download_signature_does_not_allow_an_upload(anonymous, member, make_image):
    image = make_image(member)
    url = services.signed_download_url(image_id=image.id)
    response = anonymous.put(path_of(url), b"data", content_type=OCTETS)
    assert response.status_code == 403
    assert Image.objects.get(pk=image.pk).status == "queued"


def test_signed_upload_url_uploads_without_a_token_while_queued(anonymous, member, make_image):
    # given: a snapshot record waiting for its data
    image = make_image(member, disk_format="raw")
    url = services.signed_upload_url(image_id=image.id)
    # when
    first = anonymous.put(path_of(url), b"snapshot bytes", content_type=OCTETS)
    second = anonymous.put(path_of(url), b"again", content_type=OCTETS)
    # then
    assert first.status_code == 204
    assert second.status_code == 409
    shown = member.client.get(f"{IMAGES}/{image.pk}").json()
    assert shown["status"] == "active"
    assert shown["checksum"] == md5(b"snapshot bytes")


def test_upload_signature_does_not_allow_a_download(anonymous, member, make_image):
    image = make_image(member, data=b"x")
    url = services.signed_upload_url(image_id=image.id)
    assert anonymous.get(path_of(url)).status_code == 403


def test_signed_url_of_a_deleted_image_is_404(anonymous, member, make_image):
    image = make_image(member, data=b"x")
    url = services.signed_download_url(image_id=image.id)
    services.delete_image(image=image)
    assert anonymous.get(path_of(url)).status_code == 404


def test_signed_url_expiry_is_ttl_seconds_from_now(member, make_image):
    image = make_image(member)
    before = int(time.time())
    url = services.signed_upload_url(image_id=image.id, ttl=3600)
    expires = int(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["expires"])
    assert before + 3600 <= expires <= int(time.time()) + 3600

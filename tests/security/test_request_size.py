"""Request size and shape: every JSON body has a cap (413), nesting is a 400, fields are bounded.

Each attack goes through the real API; the answer is the service's own error shape, never a
500, and nothing is written.
"""

import json

import pytest
from django.conf import settings

from apps.identity.models import Token
from apps.images.models import Image
from apps.keypairs.models import KeyPair
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _post_raw(client, url, text, content_type="application/json", **extra):
    return client.generic("POST", url, text.encode(), content_type=content_type, **extra)


def test_an_oversized_server_create_is_a_413_in_novas_shape(member):
    # given: a body just over the cap, padded inside a field
    body = {"server": {"name": "big", "flavorRef": "1", "imageRef": "x", "networks": "none"}}
    body["server"]["description"] = "x" * LIMIT
    # when
    response = _post_raw(member.client, "/compute/v2.1/servers", json.dumps(body), **V)
    # then
    assert response.status_code == 413
    assert response.json()["overLimit"]["code"] == 413
    assert not Server.objects.exists()


def test_a_declared_length_over_the_cap_is_refused_before_reading(member):
    response = member.client.generic(
        "POST",
        "/compute/v2.1/os-keypairs",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(LIMIT + 1),
        **V,
    )
    assert response.status_code == 413
    assert not KeyPair.objects.exists()


def test_an_oversized_token_request_is_a_413_in_keystones_shape(anonymous):
    before = Token.objects.count()
    body = json.dumps({"auth": {"identity": {"methods": ["password"]}, "pad": "x" * LIMIT}})
    response = _post_raw(anonymous, "/identity/v3/auth/tokens", body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert Token.objects.count() == before


def test_an_oversized_image_patch_is_a_413(member):
    # given: the member's own image
    created = member.client.post(
        "/image/v2/images",
        {"name": "mine", "disk_format": "qcow2", "container_format": "bare"},
        format="json",
    )
    assert created.status_code == 201, created.content
    image_id = created.json()["id"]
    patch = json.dumps([{"op": "add", "path": "/pad", "value": "x" * LIMIT}])
    # when
    response = member.client.generic(
        "PATCH",
        f"/image/v2/images/{image_id}",
        patch.encode(),
        content_type="application/openstack-images-v2.1-json-patch",
    )
    # then
    assert response.status_code == 413
    assert "pad" not in Image.objects.get(id=image_id).properties


@pytest.mark.parametrize("depth", [200, 5000, 50000])
def test_deeply_nested_json_is_a_400_not_a_500(member, depth):
    text = '{"server": ' + "[" * depth + "]" * depth + "}"
    response = _post_raw(member.client, "/compute/v2.1/servers", text, **V)
    assert response.status_code == 400, response.content[:200]
    assert "badRequest" in response.json()
    assert not Server.objects.exists()


@pytest.mark.parametrize("text", ["{", "NaN", '{"server": Infinity}', "\xff\xfe", ""])
def test_malformed_json_is_a_400(member, text):
    response = _post_raw(member.client, "/compute/v2.1/servers", text, **V)
    assert response.status_code == 400
    assert "badRequest" in response.json()


def test_an_oversized_public_key_is_a_400(member):
    body = {"keypair": {"name": "k", "public_key": "ssh-ed25519 " + "A" * 20000}}
    response = member.client.post("/compute/v2.1/os-keypairs", body, format="json", **V)
    assert response.status_code == 400
    assert "public_key" in response.json()["badRequest"]["message"]
    assert not KeyPair.objects.exists()


@pytest.mark.parametrize(
    "mapping",
    [
        [{"source_type": "image", "uuid": "x", "boot_index": {"deep": [1]}}],
        [{"source_type": "image", "uuid": "x", "unknown_key": 1}],
        [{"source_type": "image", "uuid": "x" * 300}],
        [{"source_type": "image", "uuid": "x"}] * 65,
        ["not-an-object"],
    ],
)
def test_block_device_mappings_are_bounded(member, mapping):
    body = {
        "server": {
            "name": "bdm",
            "flavorRef": "1",
            "networks": "none",
            "block_device_mapping_v2": mapping,
        }
    }
    response = member.client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 400, response.content
    assert "block_device_mapping_v2" in response.json()["badRequest"]["message"]
    assert not Server.objects.exists()

"""The OpenAPI document (drf-spectacular): it generates, is served, and validates against the
OpenAPI 3.0 JSON schema; what it still lacks is listed here, not hidden.

The views are DRF ViewSets without ``serializer_class`` (they validate with request
serializers inside each action), so the write operations declare their request bodies with
``@extend_schema`` next to the view (apps/*/api/views.py) and the authenticators their schemes
(apps/identity/authentication.py). tests/test_schemathesis.py generates requests from the
document as /api/schema/ serves it.
"""

import json
import re
from typing import Any

import pytest
from django.conf import settings
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

# Errors spectacular reports for views it can only partly describe; anything else fails.
KNOWN_ERRORS = ("unable to guess serializer",)


# --- generating it ------------------------------------------------------------------------------
def generate_schema() -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    """(the document as the API serves it, spectacular's warnings, its errors)."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    # A JSON round trip: what a client reads (no lazy strings, no tuples).
    return json.loads(json.dumps(schema, default=str)), warnings, errors


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    return generate_schema()


# --- tests --------------------------------------------------------------------------------------
def test_document_validates_against_the_openapi_3_0_schema(generated):
    # given
    schema, _, _ = generated
    # then: raises on any violation of the OpenAPI 3.0 JSON schema
    validate_schema(schema)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.0")


def test_document_generation_reports_only_known_limitations(generated):
    # given
    _, _, errors = generated
    # then: every error is a view spectacular cannot fully describe, none is a crash
    unexpected = [e for e in errors if not any(known in e for known in KNOWN_ERRORS)]
    assert unexpected == []


@pytest.mark.django_db
def test_served_document_is_the_generated_one(client, generated):
    # when: (DRF's ``format`` names the renderer's format, "json"; "openapi-json" is a 404)
    response = client.get("/api/schema/?format=json")
    # then
    assert response.status_code == 200
    served = json.loads(response.content)
    validate_schema(served)
    assert set(served["paths"]) == set(generated[0]["paths"])
    # and: every service's paths as its clients call them (no `{var}` for a mount's pattern)
    prefixes = {path.split("/")[1] for path in served["paths"]}
    assert prefixes == {"compute", "identity", "image", "network", "volume"}
    assert not [p for p in served["paths"] if "{var}" in p]
    volumes = served["paths"]["/volume/v3/volumes/"]["get"]
    assert "var" not in {parameter["name"] for parameter in volumes.get("parameters", [])}
    # and: users read the request bodies the views declare
    create = served["paths"]["/compute/v2.1/servers/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServerCreate"
    }


@pytest.mark.django_db
def test_api_docs_load_swagger_ui_from_the_project_only(client):
    # when
    response = client.get("/api/docs/")
    page = response.content.decode()
    # then: every script, style and icon is one of the project's static files, no CDN
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert [a for a in assets if not a.startswith(settings.STATIC_URL)] == []
    assert not re.search(r"https?://", page.replace(settings.PUBLIC_URL, ""))
    # and: the web process serves them
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()


def test_document_describes_server_flavor_and_image_operations(generated):
    # given
    paths = generated[0]["paths"]
    # then: the operations the fuzz test exercises are there, with the bodies the views declare
    create = paths["/compute/v2.1/servers/"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ServerCreate"}
    assert "requestBody" in paths["/compute/v2.1/servers/{id}/action/"]["post"]
    assert "requestBody" in paths["/compute/v2.1/flavors/"]["post"]
    assert "requestBody" in paths["/image/v2/images/"]["post"]
    schemes = generated[0]["components"]["securitySchemes"]
    assert schemes["keystoneToken"] == {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}


def test_server_create_shape_rejects_unknown_keys_as_the_api_does(generated):
    # given
    components = generated[0]["components"]["schemas"]
    # then: the create body's server object lists Nova's keys
    server = components["ServerCreateBody"]["properties"]
    assert {"name", "imageRef", "flavorRef", "networks", "min_count", "max_count"} <= set(server)
    assert components["ServerCreateBody"]["required"] == ["flavorRef", "name"]

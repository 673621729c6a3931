"""The OpenAPI document (drf-spectacular): it generates, is served, and validates against the
OpenAPI 3.0 JSON schema; what it still lacks is listed here, not hidden.

The views are DRF ViewSets without ``serializer_class`` (they validate with request
serializers inside each action), so spectacular cannot see request bodies by itself. The
view extensions below declare the request serializers of the server, flavor and image
write operations and the ``X-Auth-Token`` scheme, so that the document describes those shapes
and tests/test_schemathesis.py generates real bodies from them. They belong next to the views
(``@extend_schema`` in apps/*/api/views.py); until the owners move them there they live here
and apply to every schema generated in a test process that imports this module.
"""

import json
from typing import Any

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, extend_schema_view
from drf_spectacular.validation import validate_schema
from rest_framework import serializers

from apps.flavors.api import serializers as flavor_serializers
from apps.images.api.serializers import ImageAttributesSerializer
from apps.servers.api import serializers as server_serializers

# Errors spectacular reports for views it can only partly describe; anything else fails.
KNOWN_ERRORS = ("unable to guess serializer",)
# Paths whose prefix is a regular expression in computecloud/urls.py; the document calls
# the matched text `{var}`.
REGEX_PREFIXES = {
    "/image{var}/": "/image/",
    "/identity{var}/": "/identity/",
    "/network{var}/": "/network/",
}


# --- what the document should say, declared from outside the views -------------------------------
class KeystoneTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.identity.authentication.KeystoneTokenAuthentication"
    name = "keystoneToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}


def _one_key(name: str, value: serializers.Field) -> type[serializers.Serializer]:
    """A body of exactly one key, as the server action endpoint takes."""
    attrs = {name: value, "Meta": type("Meta", (), {})}
    component = "".join(part.capitalize() for part in name.replace("-", "_").split("_"))
    return type(f"{component}Action", (serializers.Serializer,), attrs)


def _null() -> serializers.Field:
    return serializers.JSONField(allow_null=True, required=True)


SERVER_ACTIONS = PolymorphicProxySerializer(
    component_name="ServerAction",
    resource_type_field_name=None,
    serializers=[
        _one_key("reboot", server_serializers.RebootBody()),
        _one_key("os-stop", _null()),
        _one_key("os-start", _null()),
        _one_key("pause", _null()),
        _one_key("unpause", _null()),
        _one_key("suspend", _null()),
        _one_key("resume", _null()),
        _one_key("lock", server_serializers.LockBody()),
        _one_key("unlock", _null()),
        _one_key("forceDelete", _null()),
        _one_key("os-resetState", server_serializers.ResetStateBody()),
        _one_key("os-getConsoleOutput", server_serializers.ConsoleOutputBody()),
        _one_key("createImage", server_serializers.CreateImageBody()),
        _one_key("resize", server_serializers.ResizeBody()),
        _one_key("confirmResize", _null()),
        _one_key("revertResize", _null()),
        _one_key("migrate", server_serializers.MigrateBody()),
    ],
)


class ServerViewSetSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.servers.api.views.ServerViewSet"

    def view_replacement(self) -> Any:
        @extend_schema_view(
            create=extend_schema(request=server_serializers.ServerCreateSerializer),
            update=extend_schema(request=server_serializers.ServerUpdateSerializer),
            server_action=extend_schema(request=SERVER_ACTIONS),
        )
        class Described(self.target_class):  # type: ignore[name-defined,misc]
            pass

        return Described


class MetadataViewSetSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.servers.api.views.MetadataViewSet"

    def view_replacement(self) -> Any:
        @extend_schema_view(
            create=extend_schema(request=server_serializers.MetadataBody),
            update=extend_schema(request=server_serializers.MetaItemBody),
        )
        class Described(self.target_class):  # type: ignore[name-defined,misc]
            # PUT on the collection is the router's own mapping, unknown to
            # extend_schema_view: declare it on the method.
            @extend_schema(request=server_serializers.MetadataBody)
            def replace_all(self, *args: Any, **kwargs: Any) -> Any:
                return super().replace_all(*args, **kwargs)

        return Described


class TagViewSetSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.servers.api.views.TagViewSet"

    def view_replacement(self) -> Any:
        class Described(self.target_class):  # type: ignore[name-defined,misc]
            @extend_schema(request=server_serializers.TagsBody)
            def replace_all(self, *args: Any, **kwargs: Any) -> Any:
                return super().replace_all(*args, **kwargs)

        return Described


class FlavorViewSetSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.flavors.api.views.FlavorViewSet"

    def view_replacement(self) -> Any:
        @extend_schema_view(
            create=extend_schema(request=flavor_serializers.FlavorCreateSerializer),
            update=extend_schema(request=flavor_serializers.FlavorUpdateSerializer),
            flavor_action=extend_schema(request=flavor_serializers.FlavorActionSerializer),
        )
        class Described(self.target_class):  # type: ignore[name-defined,misc]
            pass

        return Described


class ExtraSpecsViewSetSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.flavors.api.views.ExtraSpecsViewSet"

    def view_replacement(self) -> Any:
        @extend_schema_view(create=extend_schema(request=flavor_serializers.ExtraSpecsSerializer))
        class Described(self.target_class):  # type: ignore[name-defined,misc]
            pass

        return Described


class ImageViewSetSchema(OpenApiViewExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.images.api.views.ImageViewSet"

    def view_replacement(self) -> Any:
        @extend_schema_view(create=extend_schema(request=ImageAttributesSerializer))
        class Described(self.target_class):  # type: ignore[name-defined,misc]
            pass

        return Described


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


def without_regex_prefixes(schema: dict[str, Any]) -> dict[str, Any]:
    """The document with ``/image{var}/...`` as ``/image/...`` (and no `var` parameter)."""
    paths = {}
    for path, item in schema["paths"].items():
        for prefix, plain in REGEX_PREFIXES.items():
            if path.startswith(prefix):
                path = plain + path[len(prefix) :]
                for operation in item.values():
                    if isinstance(operation, dict) and "parameters" in operation:
                        operation["parameters"] = [
                            p for p in operation["parameters"] if p.get("name") != "var"
                        ]
        paths[path] = item
    return {**schema, "paths": paths}


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], dict[str, int], dict[str, int]]:
    return generate_schema()


# --- tests --------------------------------------------------------------------------------------
def test_document_validates_against_the_openapi_3_0_schema(generated):
    # given
    schema, _, _ = generated
    # then: raises on any violation of the OpenAPI 3.0 JSON schema
    validate_schema(schema)
    validate_schema(without_regex_prefixes(schema))
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


def test_document_describes_server_flavor_and_image_operations(generated):
    # given
    paths = without_regex_prefixes(generated[0])["paths"]
    # then: the operations the fuzz test exercises are there, with the bodies declared above
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

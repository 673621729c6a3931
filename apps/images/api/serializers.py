"""Image API request validation and the Glance v2 image body.

Glance's image is a flat object: base attributes and free-form properties side by side. A
request's unknown keys are therefore not errors but properties (string values), unless the
name is read-only or reserved (403, as Glance).
"""

from collections.abc import Sequence
from typing import Any

from rest_framework import serializers

from apps.images.api.parsers import PATCH_V20
from apps.images.choices import (
    BASE_ATTRIBUTES,
    READ_ONLY_ATTRIBUTES,
    ContainerFormat,
    DiskFormat,
    Visibility,
)
from apps.images.exceptions import ImageAttributeReadOnly, ImageInvalid
from apps.images.models import Image
from apps.images.services import ImageChange, check_property_names

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PATCH_OPERATIONS = ("add", "remove", "replace")


class ImageAttributesSerializer(serializers.Serializer):
    """Base attributes a caller may set (create, or one PATCH value); other keys become
    `properties`."""

    id = serializers.UUIDField(required=False)
    name = serializers.CharField(
        max_length=255, allow_null=True, allow_blank=True, trim_whitespace=False, required=False
    )
    disk_format = serializers.ChoiceField(
        choices=DiskFormat.choices, allow_null=True, required=False
    )
    container_format = serializers.ChoiceField(
        choices=ContainerFormat.choices, allow_null=True, required=False
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    protected = serializers.BooleanField(required=False)
    os_hidden = serializers.BooleanField(required=False)
    min_disk = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    min_ram = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=255, trim_whitespace=False),
        allow_empty=True,
        required=False,
    )
    owner = serializers.CharField(max_length=255, required=False)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ImageInvalid(reason="Request body must be a JSON object.")
        for key in data:
            if key in READ_ONLY_ATTRIBUTES and key != "id":
                raise ImageAttributeReadOnly(attribute=key)
        extras = {key: value for key, value in data.items() if key not in self.fields}
        check_property_names(extras)
        for key, value in extras.items():
            if not isinstance(value, str):
                raise ImageInvalid(reason=f"Property {key} must be a string, not {value!r}.")
        declared = {key: value for key, value in data.items() if key in self.fields}
        validated = super().to_internal_value(declared)
        validated["properties"] = extras
        return validated


def parse_image_patch(body: Any, *, media_type: str) -> list[ImageChange]:
    """Validate a JSON-patch body into changes: operations add/remove/replace on one-level
    paths; values checked as `ImageAttributesSerializer` would on create."""
    if not isinstance(body, list):
        raise ImageInvalid(reason="Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise ImageInvalid(reason="Operations must be JSON objects.")
        op, pointer = _operation(raw, draft4=media_type == PATCH_V20)
        path = _decode_pointer(pointer)
        if op == "remove":
            changes.append(ImageChange(op=op, path=path))
            continue
        if "value" not in raw:
            raise ImageInvalid(reason=f'Operation "{op}" requires a member named "value".')
        changes.append(ImageChange(op=op, path=path, value=_clean_value(path, raw["value"])))
    return changes


def _operation(raw: dict[str, Any], *, draft4: bool) -> tuple[Any, str]:
    op: Any
    pointer: Any
    if draft4:
        named = [op for op in PATCH_OPERATIONS if op in raw]
        if len(named) != 1:
            raise ImageInvalid(
                reason='Operation objects must contain exactly one member named "add", '
                '"remove", or "replace".'
            )
        op, pointer = named[0], raw[named[0]]
    else:
        op = raw.get("op")
        if op not in PATCH_OPERATIONS:
            raise ImageInvalid(
                reason=f"Invalid operation: `{op}`. It must be one of the following: "
                f"{', '.join(PATCH_OPERATIONS)}."
            )
        if "path" not in raw:
            raise ImageInvalid(reason="Unable to find 'path' in JSON Schema change")
        pointer = raw["path"]
    if not isinstance(pointer, str):
        raise ImageInvalid(reason="Pointer must be a string.")
    return op, pointer


def _decode_pointer(pointer: str) -> str:
    """A JSON pointer naming one top-level attribute ('~1' is '/', '~0' is '~')."""
    if not pointer.startswith("/"):
        raise ImageInvalid(reason=f'Pointer `{pointer}` does not start with "/".')
    parts = pointer[1:].split("/")
    if len(parts) != 1 or not parts[0].strip():
        raise ImageInvalid(reason=f"Invalid JSON pointer for this resource: '{pointer}'")
    token = parts[0]
    if "~" in token.replace("~0", "").replace("~1", ""):
        raise ImageInvalid(
            reason=f'Pointer `{pointer}` contains "~" not part of a recognized escape sequence.'
        )
    return token.replace("~1", "/").replace("~0", "~")


def _clean_value(path: str, value: Any) -> Any:
    if path in READ_ONLY_ATTRIBUTES:
        raise ImageAttributeReadOnly(attribute=path)
    if path in BASE_ATTRIBUTES:
        serializer = ImageAttributesSerializer(data={path: value}, partial=True)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data[path]
    check_property_names([path])
    if not isinstance(value, str):
        raise ImageInvalid(reason=f"Property {path} must be a string, not {value!r}.")
    return value


def image_body(image: Image) -> dict[str, Any]:
    """The Glance v2 representation: properties first, then the base attributes over them,
    links relative to the image endpoint (``/v2/...``) as Glance writes them."""
    body: dict[str, Any] = dict(image.properties)
    body.update(
        {
            "id": str(image.id),
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "protected": image.protected,
            "os_hidden": image.os_hidden,
            "owner": image.owner_id,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "tags": list(image.tags),
            "created_at": image.created_at.strftime(TIME_FORMAT),
            "updated_at": image.updated_at.strftime(TIME_FORMAT),
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    return body


def images_body(images: Sequence[Image]) -> list[dict[str, Any]]:
    return [image_body(image) for image in images]

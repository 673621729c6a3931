"""Flavor request and response shapes, per microversion."""

import re
import uuid
from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.flavors.models import Flavor
from computecloud.api.microversions import APIVersion
from computecloud.api.serializers import StrictSerializer

_NAME_RE = re.compile(r"^(?! )[\w .\-:]+(?<! )$")
_ID_RE = re.compile(r"^(?! )[\w.\- ]+(?<! )$")


def flavor_links(flavor: Flavor) -> list[dict[str, str]]:
    base = settings.PUBLIC_URL
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/flavors/{flavor.flavorid}"},
        {"rel": "bookmark", "href": f"{base}/compute/flavors/{flavor.flavorid}"},
    ]


def flavor_summary(flavor: Flavor, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": flavor_links(flavor),
    }
    if version >= (2, 55):
        body["description"] = flavor.description
    return body


def flavor_detail(
    flavor: Flavor, version: APIVersion, *, extra_specs: dict[str, str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "vcpus": flavor.vcpus,
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": flavor.disabled,
        # Before 2.75 a flavor without swap said "" instead of 0.
        "swap": flavor.swap if (flavor.swap or version >= (2, 75)) else "",
        "rxtx_factor": flavor.rxtx_factor,
        "os-flavor-access:is_public": flavor.is_public,
        "links": flavor_links(flavor),
    }
    if version >= (2, 55):
        body["description"] = flavor.description
    if version >= (2, 61) and extra_specs is not None:
        body["extra_specs"] = extra_specs
    return body


class FlavorCreateBody(StrictSerializer):
    name = serializers.CharField(max_length=255)
    id = serializers.CharField(max_length=255, required=False, allow_null=True)
    ram = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    vcpus = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    disk = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    swap = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, default=0)
    rxtx_factor = serializers.FloatField(min_value=0.01, required=False, default=1.0)
    description = serializers.CharField(
        max_length=65535, required=False, allow_null=True, allow_blank=True, default=None
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # Keys with a colon cannot be attribute names.
        fields["OS-FLV-EXT-DATA:ephemeral"] = serializers.IntegerField(
            min_value=0, max_value=2**31 - 1, required=False, default=0
        )
        fields["os-flavor-access:is_public"] = serializers.BooleanField(
            required=False, default=True
        )
        return fields

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value or not _NAME_RE.match(value):
            raise serializers.ValidationError(
                "Flavor names can only contain printable characters and horizontal spaces."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("id") is None:  # Nova generates a uuid for a missing or null id
            attrs["id"] = str(uuid.uuid4())
        return attrs

    def validate_id(self, value: str | None) -> str | None:
        if value is not None and not _ID_RE.match(value):
            raise serializers.ValidationError(
                "Flavor id can only contain letters, digits, periods, dashes, underscores "
                "and spaces."
            )
        return value


class FlavorCreateSerializer(StrictSerializer):
    flavor = FlavorCreateBody()


class FlavorUpdateBody(StrictSerializer):
    description = serializers.CharField(max_length=65535, allow_null=True, allow_blank=True)


class FlavorUpdateSerializer(StrictSerializer):
    flavor = FlavorUpdateBody()


_SPEC_KEY_RE = re.compile(r"^[\w.\-: ]+$")


class ExtraSpecsSerializer(StrictSerializer):
    extra_specs = serializers.DictField(
        child=serializers.CharField(max_length=255, allow_blank=True), allow_empty=False
    )

    def validate_extra_specs(self, value: dict[str, Any]) -> dict[str, str]:
        for key in value:
            if not key or len(key) > 255 or not _SPEC_KEY_RE.match(key):
                raise serializers.ValidationError(f"Invalid extra spec key {key!r}.")
        return {k: str(v) for k, v in value.items()}


class TenantSerializer(StrictSerializer):
    tenant = serializers.CharField(max_length=255)


class FlavorActionSerializer(StrictSerializer):
    """POST /flavors/{id}/action: exactly one of the two access actions."""

    addTenantAccess = TenantSerializer(required=False)  # noqa: N815 - Nova's key
    removeTenantAccess = TenantSerializer(required=False)  # noqa: N815 - Nova's key

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs) != 1:
            raise serializers.ValidationError("Exactly one action is expected.")
        return attrs

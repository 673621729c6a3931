"""os-keypairs request bodies by microversion, and the response shapes.

Request schemas follow Nova's: ``type`` from 2.2, ``user_id`` from 2.10, ``public_key``
required and ``@``/``.`` allowed in names from 2.92; unknown keys are a 400.
"""

from typing import Any

from rest_framework import serializers

from apps.keypairs.models import KeyPair, KeyPairType
from computecloud.api.microversions import APIVersion
from computecloud.api.serializers import StrictSerializer
from computecloud.api.timeformat import iso_micro

NAME_PATTERN = r"^[_\- a-zA-Z0-9]+$"
NAME_PATTERN_V292 = r"^[_\-@. a-zA-Z0-9]+$"


def _name_field(version: APIVersion) -> serializers.RegexField:
    allowed = "letters, digits, spaces, '_' and '-'"
    pattern = NAME_PATTERN
    if version >= (2, 92):
        allowed = "letters, digits, spaces, '_', '-', '@' and '.'"
        pattern = NAME_PATTERN_V292
    return serializers.RegexField(
        pattern,
        min_length=1,
        max_length=255,
        trim_whitespace=False,
        error_messages={"invalid": f"Keypair names may contain only {allowed}."},
    )


class _KeypairBody(StrictSerializer):
    def validate_name(self, value: str) -> str:
        if value != value.strip():
            raise serializers.ValidationError(
                "Keypair names may not have leading or trailing spaces."
            )
        return value


def create_serializer(version: APIVersion, data: Any) -> serializers.Serializer:
    """The create request serializer for `version`, bound to `data`."""
    fields: dict[str, serializers.Field] = {
        "name": _name_field(version),
        # 16 KiB holds any OpenSSH key (RSA 16384 is about 2.8 KiB) and an x509 certificate.
        "public_key": serializers.CharField(
            required=version >= (2, 92),
            trim_whitespace=False,
            allow_blank=False,
            max_length=16384,
        ),
    }
    if version >= (2, 2):
        fields["type"] = serializers.ChoiceField(
            choices=KeyPairType.values, required=False, default=KeyPairType.SSH
        )
    if version >= (2, 10):
        fields["user_id"] = serializers.CharField(required=False, max_length=64)
    inner = type("KeypairCreateBody", (_KeypairBody,), fields)
    outer = type("KeypairCreateRequest", (StrictSerializer,), {"keypair": inner()})
    return outer(data=data)


def keypair_summary(keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    if version >= (2, 2):
        body["type"] = keypair.type
    return body


def keypair_created(
    keypair: KeyPair, version: APIVersion, private_key: str | None
) -> dict[str, Any]:
    body = keypair_summary(keypair, version)
    body["user_id"] = keypair.user_id
    if private_key is not None:
        body["private_key"] = private_key
    return body


def keypair_detail(keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    body = keypair_summary(keypair, version)
    body.update(
        {
            "user_id": keypair.user_id,
            "created_at": iso_micro(keypair.created_at),
            "deleted": False,
            "deleted_at": None,
            "updated_at": None,
            "id": keypair.pk,
        }
    )
    return body

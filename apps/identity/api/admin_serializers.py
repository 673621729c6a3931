"""Keystone v3 administration: request bodies and response shapes of projects, users, roles,
role assignments, domains and application credentials (docs/identity.md).

Requests: project and user bodies ignore keys they do not know, as Keystone's schemas allow
"extra" attributes there; application credential bodies refuse them, as Keystone's does.
Booleans must be JSON booleans (Keystone's ``parameter_types.boolean``): ``"yes"`` is a 400.
Responses: plain functions from model to dict, links absolute under the public identity URL.
"""

from typing import Any

from rest_framework import serializers

from apps.identity.models import ApplicationCredential, Domain, Role, RoleAssignment
from computecloud.api.serializers import StrictSerializer
from computecloud.api.timeformat import keystone_time
from computecloud.endpoints import identity_public_url


class StrictBooleanField(serializers.Field):
    """A JSON ``true`` or ``false``, nothing else (DRF's BooleanField takes ``"yes"``, 1...)."""

    default_error_messages = {"invalid": "Must be a boolean (true or false)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> bool:
        return bool(value)


def _text(max_length: int, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, **kwargs)


# --- projects and users ----------------------------------------------------------------------


class ProjectCreateSerializer(serializers.Serializer):
    name = _text(64)
    domain_id = _text(64, required=False, allow_null=True)
    description = _text(4096, required=False, allow_blank=True, allow_null=True)
    enabled = StrictBooleanField(required=False)
    is_domain = StrictBooleanField(required=False)
    parent_id = _text(64, required=False, allow_null=True)

    def validate_is_domain(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError("Projects acting as domains are not supported.")
        return value


class ProjectUpdateSerializer(serializers.Serializer):
    name = _text(64, required=False)
    description = _text(4096, required=False, allow_blank=True, allow_null=True)
    enabled = StrictBooleanField(required=False)


class UserCreateSerializer(serializers.Serializer):
    name = _text(150)  # Django's user name length; Keystone allows 255
    domain_id = _text(64, required=False, allow_null=True)
    password = _text(4096, required=False, allow_null=True, trim_whitespace=False)
    default_project_id = _text(64, required=False, allow_null=True)
    enabled = StrictBooleanField(required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    description = _text(4096, required=False, allow_blank=True, allow_null=True)


class UserUpdateSerializer(serializers.Serializer):
    name = _text(150, required=False)
    password = _text(4096, required=False, trim_whitespace=False)
    default_project_id = _text(64, required=False, allow_null=True)
    enabled = StrictBooleanField(required=False)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    description = _text(4096, required=False, allow_blank=True, allow_null=True)


def envelope(key: str, serializer_class: type[serializers.Serializer]) -> type:
    """A body ``{key: {...}}`` whose inner object `serializer_class` validates."""
    return type(
        f"{key.title()}Envelope",
        (StrictSerializer,),
        {key: serializer_class()},
    )


ProjectCreateRequest = envelope("project", ProjectCreateSerializer)
ProjectUpdateRequest = envelope("project", ProjectUpdateSerializer)
UserCreateRequest = envelope("user", UserCreateSerializer)
UserUpdateRequest = envelope("user", UserUpdateSerializer)


# --- application credentials -----------------------------------------------------------------


class RoleRefSerializer(StrictSerializer):
    id = _text(64, required=False)
    name = _text(255, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("id") and not attrs.get("name"):
            raise serializers.ValidationError("Expecting to find id or name in role.")
        return attrs


class ApplicationCredentialCreateSerializer(StrictSerializer):
    name = _text(255)
    description = _text(4096, required=False, allow_blank=True, allow_null=True)
    secret = _text(4096, required=False, allow_null=True, trim_whitespace=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    roles = serializers.ListField(child=RoleRefSerializer(), required=False, max_length=64)
    unrestricted = StrictBooleanField(required=False)
    access_rules = serializers.ListField(required=False, max_length=0)

    def validate_secret(self, value: str | None) -> str | None:
        if value is not None and not value:
            raise serializers.ValidationError("A given secret may not be empty.")
        return value


ApplicationCredentialCreateRequest = envelope(
    "application_credential", ApplicationCredentialCreateSerializer
)


class ApplicationCredentialUserSerializer(serializers.Serializer):
    id = _text(64, required=False)
    name = _text(255, required=False)
    domain = serializers.DictField(child=_text(255), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("id") and not attrs.get("name"):
            raise serializers.ValidationError("Expecting to find id or name in user.")
        return attrs


class ApplicationCredentialMethodSerializer(serializers.Serializer):
    """The ``application_credential`` part of a token request: id, or name with its user."""

    id = _text(64, required=False)
    name = _text(255, required=False)
    user = ApplicationCredentialUserSerializer(required=False)
    secret = _text(4096, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("id") and not (attrs.get("name") and attrs.get("user")):
            raise serializers.ValidationError(
                "Expecting to find id, or name and user, in application_credential."
            )
        return attrs


# --- responses -------------------------------------------------------------------------------


def _url(path: str) -> str:
    return f"{identity_public_url()}/v3/{path}"


def render_domain(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.pk,
        "name": domain.name,
        "description": domain.description,
        "enabled": domain.enabled,
        "tags": [],
        "options": {},
        "links": {"self": _url(f"domains/{domain.pk}")},
    }


def render_role(role: Role) -> dict[str, Any]:
    return {
        "id": role.pk,
        "name": role.name,
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": _url(f"roles/{role.pk}")},
    }


def render_role_assignment(assignment: RoleAssignment, *, include_names: bool) -> dict[str, Any]:
    role: dict[str, Any] = {"id": assignment.role_id}
    user: dict[str, Any] = {"id": assignment.user_id}
    project: dict[str, Any] = {"id": assignment.project_id}
    if include_names:
        role["name"] = assignment.role.name
        account, scope = assignment.user, assignment.project
        user.update(
            name=account.username, domain={"id": account.domain_id, "name": account.domain.name}
        )
        project.update(name=scope.name, domain={"id": scope.domain_id, "name": scope.domain.name})
    path = f"projects/{assignment.project_id}/users/{assignment.user_id}/roles/{assignment.role_id}"
    return {
        "role": role,
        "user": user,
        "scope": {"project": project},
        "links": {"assignment": _url(path)},
    }


def render_application_credential(
    credential: ApplicationCredential, *, secret: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": credential.pk,
        "name": credential.name,
        "description": credential.description or None,
        "user_id": credential.user_id,
        "project_id": credential.project_id,
        "roles": [
            {"id": role.pk, "name": role.name, "domain_id": None} for role in credential.roles.all()
        ],
        "expires_at": keystone_time(credential.expires_at) if credential.expires_at else None,
        "unrestricted": credential.unrestricted,
        "access_rules": [],
        "links": {
            "self": _url(f"users/{credential.user_id}/application_credentials/{credential.pk}")
        },
    }
    if secret is not None:
        body["secret"] = secret  # shown this once: only its hash is kept
    return body

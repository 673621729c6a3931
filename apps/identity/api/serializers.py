"""Keystone v3 request parsing and response shapes (KEYSTONE-SUBSET.md §2, §3, §6).

Requests: the token request body. It is parsed leniently (unknown keys are ignored), as
Keystone's schema allows other methods' payloads beside ``password``.
Responses: plain functions from model to dict, so every view renders a token, a project or a
user the same way. Times are ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: Tempest parses them with
``strptime`` and refuses ``+00:00``.
"""

from typing import Any

from rest_framework import serializers

from apps.identity.api.admin_serializers import ApplicationCredentialMethodSerializer
from apps.identity.catalog import service_catalog
from apps.identity.models import Project, Role, Token, User
from apps.identity.services import ProjectRef, UserRef
from computecloud.api.timeformat import keystone_time
from computecloud.endpoints import identity_public_url

KEYSTONE_VERSION = {
    "id": "v3.14",
    "status": "stable",
    "updated": "2020-04-07T00:00:00Z",
    "media-types": [
        {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
    ],
}


def v3_version() -> dict[str, Any]:
    return {**KEYSTONE_VERSION, "links": [{"rel": "self", "href": f"{identity_public_url()}/v3/"}]}


# --- token request ---------------------------------------------------------------------------


class DomainRefSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=255)


class PasswordUserSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=255)
    domain = DomainRefSerializer(required=False)
    password = serializers.CharField(trim_whitespace=False, allow_blank=True, max_length=4096)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("id") and not attrs.get("name"):
            raise serializers.ValidationError("Expecting to find id or name in user.")
        return attrs


class PasswordMethodSerializer(serializers.Serializer):
    user = PasswordUserSerializer()


class IdentitySerializer(serializers.Serializer):
    methods = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    password = PasswordMethodSerializer(required=False)
    application_credential = ApplicationCredentialMethodSerializer(required=False)


class ProjectScopeSerializer(serializers.Serializer):
    id = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(required=False, max_length=255)
    domain = DomainRefSerializer(required=False)


class AuthSerializer(serializers.Serializer):
    identity = IdentitySerializer()
    # A dict ({"project": ...}, {"domain": ...}, {"system": ...}) or the string "unscoped".
    scope = serializers.JSONField(required=False)


class TokenRequestSerializer(serializers.Serializer):
    auth = AuthSerializer()


def user_ref(data: dict[str, Any]) -> UserRef:
    domain = data.get("domain") or {}
    return UserRef(
        id=data.get("id"),
        name=data.get("name"),
        domain_id=domain.get("id"),
        domain_name=domain.get("name"),
    )


def project_ref(data: dict[str, Any]) -> ProjectRef:
    domain = data.get("domain") or {}
    return ProjectRef(
        id=data.get("id"),
        name=data.get("name"),
        domain_id=domain.get("id"),
        domain_name=domain.get("name"),
    )


# --- responses -------------------------------------------------------------------------------


def _domain(domain_id: str, name: str) -> dict[str, str]:
    return {"id": domain_id, "name": name}


def render_token(token: Token, roles: list[Role], *, include_catalog: bool) -> dict[str, Any]:
    """The ``{"token": ...}`` body of a token response (KEYSTONE-SUBSET.md §3.2)."""
    user = token.user
    body: dict[str, Any] = {
        "methods": list(token.methods),
        "user": {
            "id": user.pk,
            "name": user.username,
            "domain": _domain(user.domain_id, user.domain.name),
            "password_expires_at": None,
        },
        "audit_ids": [token.audit_id],
        "issued_at": keystone_time(token.issued_at),
        "expires_at": keystone_time(token.expires_at),
    }
    project = token.project
    if project is not None:
        body["project"] = {
            "id": project.pk,
            "name": project.name,
            "domain": _domain(project.domain_id, project.domain.name),
        }
        body["is_domain"] = False
        body["roles"] = [{"id": role.pk, "name": role.name} for role in roles]
        if (credential := token.application_credential) is not None:
            body["application_credential"] = {
                "id": credential.pk,
                "name": credential.name,
                "restricted": not credential.unrestricted,
            }
        if include_catalog:
            body["catalog"] = service_catalog()
    return {"token": body}


def render_project(project: Project) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "domain_id": project.domain_id,
        "description": project.description,
        "enabled": project.enabled,
        "is_domain": False,
        "parent_id": project.domain_id,
        "tags": [],
        "options": {},
        "links": {"self": f"{identity_public_url()}/v3/projects/{project.pk}"},
    }


def render_user(user: User) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": user.pk,
        "name": user.username,
        "domain_id": user.domain_id,
        "enabled": user.is_active,
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"{identity_public_url()}/v3/users/{user.pk}"},
    }
    if user.default_project_id:
        body["default_project_id"] = user.default_project_id
    if user.email:
        body["email"] = user.email
    if user.description:
        body["description"] = user.description
    return body


def collection_links(path: str) -> dict[str, Any]:
    return {"self": f"{identity_public_url()}/v3/{path}", "previous": None, "next": None}

"""``/v3/users/{u}/application_credentials``: the credentials a user makes for programs.

A user manages their own (policy ``admin_or_user`` on the path's user); an admin may list,
show and delete anyone's, but, as in Keystone, nobody creates one for someone else. Another
user's path is a 404 for non-admins, as their other lookups are. The secret is in the
creation's answer only.
"""

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity import services
from apps.identity.api import admin_serializers as a
from apps.identity.api import serializers as s
from apps.identity.api.views import KeystoneView, visible_user
from apps.identity.exceptions import ApplicationCredentialNotFound, RoleNotFound
from apps.identity.models import ApplicationCredential, Project, Role, Token, User
from apps.identity.policy import authorize
from computecloud.exceptions import Forbidden


def _owner(request: Request, user_id: str, action: str) -> User:
    user = visible_user(request.auth, user_id)
    authorize(request.auth, action, target={"user_id": user.pk})
    return user


def _credentials(user: User) -> QuerySet[ApplicationCredential]:
    return ApplicationCredential.objects.filter(user=user).prefetch_related("roles")


def _role(ref: dict[str, str]) -> Role:
    query = {"pk": ref["id"]} if ref.get("id") else {"name": ref["name"]}
    role = Role.objects.filter(**query).first()
    if role is None:
        raise RoleNotFound(role=ref.get("id") or ref["name"])
    return role


class ApplicationCredentialListView(KeystoneView):
    """``GET`` (filter ``name``) and ``POST /v3/users/{u}/application_credentials``."""

    policy_actions = {
        "get": "identity:list_application_credentials",
        "post": "identity:create_application_credential",
    }

    def get(self, request: Request, user_id: str) -> Response:
        user = _owner(request, user_id, "identity:list_application_credentials")
        credentials = _credentials(user)
        if name := request.query_params.get("name"):
            credentials = credentials.filter(name=name)
        return Response(
            {
                "application_credentials": [
                    a.render_application_credential(c) for c in credentials
                ],
                "links": s.collection_links(f"users/{user.pk}/application_credentials"),
            }
        )

    def post(self, request: Request, user_id: str) -> Response:
        user = _owner(request, user_id, "identity:create_application_credential")
        if user.pk != request.auth.user_id:
            raise Forbidden("Cannot create an application credential for another user.")
        if request.auth.project_id is None:
            raise Forbidden("A project-scoped token is required to create one.")
        token = (
            Token.objects.select_related("application_credential")
            .filter(audit_id=request.auth.token_audit_id)
            .first()
        )
        services.ensure_may_create_application_credential(token=token)
        body = a.ApplicationCredentialCreateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data["application_credential"]
        credential, secret = services.create_application_credential(
            user=user,
            project=Project.objects.get(pk=request.auth.project_id),
            name=data["name"],
            secret=data.get("secret"),
            description=data.get("description") or "",
            roles=[_role(ref) for ref in data.get("roles") or []],
            expires_at=data.get("expires_at"),
            unrestricted=data.get("unrestricted", False),
        )
        return Response(
            {"application_credential": a.render_application_credential(credential, secret=secret)},
            status=201,
        )


class ApplicationCredentialDetailView(KeystoneView):
    """``GET`` and ``DELETE /v3/users/{u}/application_credentials/{id}``."""

    policy_actions = {
        "get": "identity:get_application_credential",
        "delete": "identity:delete_application_credential",
    }

    def _credential(self, request: Request, user_id: str, credential_id: str) -> Any:
        action = self.policy_actions[request.method.lower()]
        user = _owner(request, user_id, action)
        credential = _credentials(user).filter(pk=credential_id).first()
        if credential is None:
            raise ApplicationCredentialNotFound(credential=credential_id)
        return credential

    def get(self, request: Request, user_id: str, credential_id: str) -> Response:
        credential = self._credential(request, user_id, credential_id)
        return Response({"application_credential": a.render_application_credential(credential)})

    def delete(self, request: Request, user_id: str, credential_id: str) -> Response:
        credential = self._credential(request, user_id, credential_id)
        services.delete_application_credential(credential=credential)
        return Response(status=204)

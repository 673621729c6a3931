"""Keystone v3 subset: version discovery, tokens, the caller's projects and catalog
(KEYSTONE-SUBSET.md), and the base and lookups the administration views (projects.py,
users.py, roles.py, domains.py, application_credentials.py) share. Errors leave in Keystone's
shape (``error_style = "keystone"``), with ``WWW-Authenticate`` on every 401.

Projects and users are looked up within what the caller may see: admins see everything,
others their own projects and themselves; anything else is a 404.
"""

from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions as drf_exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity import services
from apps.identity.api import serializers as s
from apps.identity.authentication import KeystoneTokenAuthentication
from apps.identity.catalog import service_catalog
from apps.identity.context import RequestContext
from apps.identity.exceptions import ProjectNotFound, UserNotFound
from apps.identity.filtersets import KeystoneFilterSet, keystone_flag
from apps.identity.models import Project, Role, Token, User
from apps.identity.policy import PolicyPermission, authorize
from apps.identity.throttle import TooManyAuthFailures, source_address
from apps.identity.tokens import context_for_token, find_valid_token, revoke_token
from computecloud.exceptions import (
    AuthenticationRequired,
    Forbidden,
    InvalidInput,
    NotFound,
)


class TokenNotFound(NotFound):
    msg_fmt = "Could not find token: it is unknown, expired or revoked."


class KeystoneView(APIView):
    """Base of the identity views: token authentication only, JSON only, Keystone errors."""

    error_style = "keystone"
    authentication_classes = [KeystoneTokenAuthentication]
    permission_classes = [PolicyPermission]
    renderer_classes = [JSONRenderer]


class VersionsView(KeystoneView):
    """``GET /identity`` and ``/identity/``: Keystone's multiple-choice document, no token."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"versions": {"values": [s.v3_version()]}}, status=300)


class V3VersionView(KeystoneView):
    """``GET /identity/v3`` and ``/identity/v3/``: the v3 version document, no token."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"version": s.v3_version()})


def _roles(token: Token) -> list[Role]:
    """The roles `token` carries: its user's on its project, and of those only the
    credential's for a token issued with an application credential."""
    if token.project_id is None:
        return []
    roles = Role.objects.filter(
        assignments__user_id=token.user_id, assignments__project=token.project_id
    )
    if token.application_credential_id:
        roles = roles.filter(application_credentials=token.application_credential_id)
    return list(roles.order_by("name").distinct())


class TokensView(KeystoneView):
    """``/v3/auth/tokens``: issue (POST, no token), validate (GET, HEAD), revoke (DELETE)."""

    policy_actions = {
        "get": "identity:validate_token",
        "head": "identity:validate_token",
        "delete": "identity:revoke_token",
    }

    def perform_authentication(self, request: Request) -> None:
        # Issuing needs no token, and a stale one sent along must not make it fail.
        if request.method != "POST":
            super().perform_authentication(request)

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return []
        return super().get_permissions()

    def post(self, request: Request) -> Response:
        serializer = s.TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        auth = serializer.validated_data["auth"]
        identity = auth["identity"]
        # The password and application_credential methods are served; token, TOTP... are not.
        try:
            if identity["methods"] == ["application_credential"]:
                grant = self._application_credential_grant(request, auth)
            elif identity["methods"] == ["password"]:
                grant = self._password_grant(request, auth)
            else:
                raise AuthenticationRequired()
        except TooManyAuthFailures as exc:
            # DRF's Throttled carries Retry-After; the shared handler shapes it as Keystone's.
            raise drf_exceptions.Throttled(wait=exc.retry_after, detail=exc.message) from None
        body = s.render_token(
            grant.issued.record,
            grant.roles,
            include_catalog="nocatalog" not in request.query_params,
        )
        return Response(body, status=201, headers={"X-Subject-Token": grant.issued.token})

    def _password_grant(self, request: Request, auth: dict[str, Any]) -> services.TokenGrant:
        identity = auth["identity"]
        if "password" not in identity:
            raise InvalidInput("Expecting to find password in identity.")
        project = self._project_scope(auth.get("scope"))
        password_user = identity["password"]["user"]
        return services.issue_password_token(
            user=s.user_ref(password_user),
            password=password_user["password"],
            project=project,
            source=source_address(request.META),
        )

    def _application_credential_grant(
        self, request: Request, auth: dict[str, Any]
    ) -> services.TokenGrant:
        """A credential's token is always scoped to the credential's project; a request that
        asks for another scope is refused as Keystone refuses it."""
        identity = auth["identity"]
        if "application_credential" not in identity:
            raise InvalidInput("Expecting to find application_credential in identity.")
        if auth.get("scope") not in (None, "unscoped"):
            raise AuthenticationRequired()
        data = identity["application_credential"]
        owner = data.get("user")
        return services.issue_application_credential_token(
            credential=services.ApplicationCredentialRef(
                id=data.get("id"),
                name=data.get("name"),
                user=s.user_ref(owner) if owner else None,
            ),
            secret=data["secret"],
            source=source_address(request.META),
        )

    def _project_scope(self, scope: Any) -> services.ProjectRef | None:
        if scope is None or scope == "unscoped":
            return None
        if not isinstance(scope, dict):
            raise InvalidInput("Invalid input for field 'scope': expecting an object.")
        if set(scope) != {"project"} or not isinstance(scope["project"], dict):
            # Domain, system and trust scopes are not served.
            raise AuthenticationRequired()
        project = s.ProjectScopeSerializer(data=scope["project"])
        project.is_valid(raise_exception=True)
        return s.project_ref(project.validated_data)

    def _subject(self, request: Request, action: str) -> Token:
        secret = request.headers.get("X-Subject-Token")
        if not secret:
            raise InvalidInput("Expecting to find X-Subject-Token in the request headers.")
        token = find_valid_token(secret)
        # A token whose user lost every role on its project is as dead as a revoked one.
        if token is None or context_for_token(token) is None:
            raise TokenNotFound()
        authorize(request.auth, action, target={"user_id": token.user_id})
        return token

    def get(self, request: Request) -> Response:
        token = self._subject(request, "identity:validate_token")
        body = s.render_token(
            token, _roles(token), include_catalog="nocatalog" not in request.query_params
        )
        return Response(body, headers={"X-Subject-Token": request.headers["X-Subject-Token"]})

    def head(self, request: Request) -> Response:
        self._subject(request, "identity:validate_token")
        return Response(status=200, headers={"X-Subject-Token": request.headers["X-Subject-Token"]})

    def delete(self, request: Request) -> Response:
        revoke_token(self._subject(request, "identity:revoke_token"))
        return Response(status=204)


def visible_projects(context: RequestContext) -> QuerySet[Project]:
    """All projects for admins; otherwise the enabled ones the caller holds a role on."""
    queryset = Project.objects.all()
    if context.is_admin:
        return queryset
    return queryset.filter(role_assignments__user_id=context.user_id, enabled=True).distinct()


def visible_users(context: RequestContext) -> QuerySet[User]:
    queryset = User.objects.all()
    if context.is_admin:
        return queryset
    return queryset.filter(pk=context.user_id)


class AuthProjectsView(KeystoneView):
    """``GET /v3/auth/projects``: the projects the caller may scope a token to."""

    policy_actions = {"get": "identity:get_auth_projects"}

    def get(self, request: Request) -> Response:
        projects = Project.objects.filter(
            role_assignments__user_id=request.auth.user_id, enabled=True
        ).distinct()
        return Response(
            {
                "projects": [s.render_project(p) for p in projects],
                "links": s.collection_links("auth/projects"),
            }
        )


class AuthCatalogView(KeystoneView):
    """``GET /v3/auth/catalog``: the service catalog of the caller's (project-scoped) token."""

    policy_actions = {"get": "identity:get_auth_catalog"}

    def get(self, request: Request) -> Response:
        if request.auth.project_id is None:
            raise Forbidden("A project-scoped token is required to produce a service catalog.")
        return Response({"catalog": service_catalog(), "links": s.collection_links("auth/catalog")})


def filtered(filterset: KeystoneFilterSet) -> QuerySet[Any]:
    """The rows a list's filters keep; a value no filter can take (a NUL) is a 400, never
    a filter silently left out."""
    if not filterset.is_valid():
        raise InvalidInput(f"Invalid query parameters: {', '.join(sorted(filterset.errors))}.")
    return filterset.qs


def bool_param(request: Request, name: str) -> bool | None:
    """A query flag as Keystone reads it (apps/identity/filtersets.py: keystone_flag)."""
    return keystone_flag(request.query_params.get(name))


def visible_project(context: RequestContext, project_id: str) -> Project:
    project = visible_projects(context).filter(pk=project_id).select_related("domain").first()
    if project is None:
        raise ProjectNotFound(project=project_id)
    return project


def visible_user(context: RequestContext, user_id: str) -> User:
    user = visible_users(context).filter(pk=user_id).select_related("domain").first()
    if user is None:
        raise UserNotFound(user=user_id)
    return user

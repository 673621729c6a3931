"""DRF authentication for every API: by ``X-Auth-Token``, or by a signed-in session."""

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from apps.identity.context import RequestContext
from apps.identity.models import Project, Role, User
from apps.identity.services import default_scope
from apps.identity.tokens import context_for_token, find_valid_token
from computecloud.endpoints import identity_public_url
from computecloud.exceptions import AuthenticationRequired


class KeystoneTokenAuthentication(BaseAuthentication):
    """Sets ``request.user`` to the token's user and ``request.auth`` to a `RequestContext`.

    No header: not this authenticator's business (the next one, or a 401 from policy).
    A header with a bad, expired or revoked token: 401 at once.
    """

    def authenticate(self, request: Request) -> tuple[User, RequestContext] | None:
        secret = request.headers.get("X-Auth-Token")
        if not secret:
            return None
        token = find_valid_token(secret)
        context = None
        if token is not None:
            context = context_for_token(token, request_id=getattr(request, "request_id", "-"))
        if token is None or context is None:
            raise AuthenticationRequired()
        return token.user, context

    def authenticate_header(self, request: Request) -> str:
        return f'Keystone uri="{identity_public_url()}"'


def session_context(user: Any, request_id: str = "-") -> RequestContext | None:
    """The context of a signed-in session (browsable API, dashboard, admin actions).

    Scoped as a password token that names no project is (`services.default_scope`): the
    user's default project with the roles held there, else unscoped (no project, no roles).
    Roles come only from assignments, as a token's do. None for a user who can no longer
    sign in (disabled, or in a disabled domain).
    """
    if user is None or not user.is_active or not user.domain.enabled:
        return None
    project, roles = default_scope(user)
    return scoped_context(user, project, roles, request_id)


def scoped_context(
    user: User, project: Project | None, roles: list[Role], request_id: str
) -> RequestContext:
    """A signed-in user's context on `project` with `roles` (none: unscoped), as a token
    scoped there would give it; the sessions of the browsable API and the dashboard."""
    return RequestContext(
        user_id=user.pk,
        project_id=project.pk if project is not None else None,
        roles=frozenset(role.name for role in roles),
        request_id=request_id,
    )


class KeystoneSessionAuthentication(SessionAuthentication):
    """Django's session (``/api-auth/login/``), with CSRF on unsafe methods, giving the same
    ``request.auth`` a token gives: a `RequestContext` from `session_context`."""

    def authenticate(self, request: Request) -> tuple[User, RequestContext] | None:
        authenticated = super().authenticate(request)
        if authenticated is None:
            return None
        user = authenticated[0]
        context = session_context(user, request_id=getattr(request, "request_id", "-"))
        if context is None:
            return None
        return user, context


# How the OpenAPI document (/api/schema/) names the two ways in.
class KeystoneTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = KeystoneTokenAuthentication
    name = "keystoneToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}


class KeystoneSessionScheme(SessionScheme):
    target_class = KeystoneSessionAuthentication

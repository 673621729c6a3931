"""DRF authentication by ``X-Auth-Token`` for every API."""

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.identity.context import RequestContext
from apps.identity.models import User
from apps.identity.tokens import context_for_token, find_valid_token, project_roles
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
    """A context for a dashboard/browsable-API session: the user's default project."""
    project_id = user.default_project_id
    if project_id is None:
        return None
    roles = project_roles(user_id=user.pk, project_id=project_id)
    if user.is_superuser:
        roles = roles | {"admin"}
    return RequestContext(
        user_id=user.pk, project_id=project_id, roles=roles, request_id=request_id
    )

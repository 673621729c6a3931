"""Which project a signed-in dashboard user works in, and the context their requests carry.

A session starts in the user's default project (as a password token that names none; else
the first project, by name, where they hold a role) and may switch to any project where the
user holds a role (`apps.identity.services.project_scopes`).
The context is rebuilt from the database on every request, so a revoked role or a disabled
user or project takes effect at the next click, as a revoked token would.
"""

from django.http import HttpRequest

from apps.identity.authentication import scoped_context
from apps.identity.context import RequestContext
from apps.identity.models import Project, Role, User
from apps.identity.services import default_scope, project_scopes, scope_on

SESSION_PROJECT = "dashboard_project_id"


def current_scope(request: HttpRequest) -> tuple[Project | None, list[Role]]:
    """The session's project and the roles held there; (None, []) when the user has none."""
    user = request.user
    if not isinstance(user, User) or not user.is_active or not user.domain.enabled:
        return None, []
    chosen = request.session.get(SESSION_PROJECT)
    if chosen:
        scope = scope_on(user, chosen)
        if scope is not None:
            return scope
        del request.session[SESSION_PROJECT]
    project, roles = default_scope(user)
    if project is None:
        # No usable default project: the first project where the user holds a role, so
        # that a user is never shut out of their own projects for want of a default.
        scopes = project_scopes(user)
        if scopes:
            project, roles = scopes[0]
    return project, roles


def context_for(request: HttpRequest) -> RequestContext | None:
    """The `RequestContext` of a dashboard request: the user, the session's project and its
    roles; None for an anonymous or disabled user."""
    user = request.user
    if not isinstance(user, User) or not user.is_active or not user.domain.enabled:
        return None
    project, roles = current_scope(request)
    return scoped_context(user, project, roles, getattr(request, "request_id", "-"))


def switch_project(request: HttpRequest, project_id: str) -> Project | None:
    """Make `project_id` the session's project if the user holds a role there."""
    user = request.user
    if not isinstance(user, User):
        return None
    scope = scope_on(user, project_id)
    if scope is None:
        return None
    request.session[SESSION_PROJECT] = scope[0].pk
    return scope[0]


def switchable_projects(request: HttpRequest) -> list[tuple[Project, list[Role]]]:
    user = request.user
    return project_scopes(user) if isinstance(user, User) else []

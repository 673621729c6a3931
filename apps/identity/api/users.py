"""``/v3/users``: Keystone's user administration. Reads are scoped (admins see every user,
others themselves; anything else is a 404); writes are the admin's."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity import services
from apps.identity.api import admin_serializers as a
from apps.identity.api import serializers as s
from apps.identity.api.views import (
    KeystoneView,
    filtered,
    visible_project,
    visible_user,
    visible_users,
)
from apps.identity.filtersets import ProjectFilterSet, UserFilterSet
from apps.identity.models import Project


class UserListView(KeystoneView):
    """``GET /v3/users`` (filters ``name``, ``domain_id``, ``enabled``); ``POST``."""

    policy_actions = {"get": "identity:list_users", "post": "identity:create_user"}

    def get(self, request: Request) -> Response:
        users = filtered(UserFilterSet(request.query_params, visible_users(request.auth)))
        return Response(
            {
                "users": [s.render_user(u) for u in users.order_by("username", "id")],
                "links": s.collection_links("users"),
            }
        )

    def post(self, request: Request) -> Response:
        body = a.UserCreateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data["user"]
        user = services.create_user(
            username=data["name"],
            password=data.get("password"),
            domain=services.get_domain(data.get("domain_id")),
            default_project=_default_project(request, data.get("default_project_id")),
            email=data.get("email") or "",
            description=data.get("description") or "",
            enabled=data.get("enabled", True),
        )
        return Response({"user": s.render_user(user)}, status=201)


def _default_project(request: Request, project_id: str | None) -> Project | None:
    return visible_project(request.auth, project_id) if project_id else None


class UserDetailView(KeystoneView):
    """``GET``, ``PATCH`` (name, password, enabled, default project, email, description) and
    ``DELETE /v3/users/{id}``."""

    policy_actions = {
        "get": "identity:get_user",
        "patch": "identity:update_user",
        "delete": "identity:delete_user",
    }

    def get(self, request: Request, user_id: str) -> Response:
        return Response({"user": s.render_user(visible_user(request.auth, user_id))})

    def patch(self, request: Request, user_id: str) -> Response:
        user = visible_user(request.auth, user_id)
        body = a.UserUpdateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data["user"]
        clear_default = "default_project_id" in data and data["default_project_id"] is None
        description = data.get("description")
        user = services.update_user(
            user=user,
            name=data.get("name"),
            password=data.get("password"),
            enabled=data.get("enabled"),
            email=data.get("email"),
            description="" if "description" in data and description is None else description,
            default_project=_default_project(request, data.get("default_project_id")),
            clear_default_project=clear_default,
        )
        return Response({"user": s.render_user(user)})

    def delete(self, request: Request, user_id: str) -> Response:
        services.delete_user(user=visible_user(request.auth, user_id))
        return Response(status=204)


class UserProjectsView(KeystoneView):
    """``GET /v3/users/{id}/projects``: the projects the user holds a role on (a user their
    own, an admin anyone's)."""

    policy_actions = {"get": "identity:list_user_projects"}

    def get(self, request: Request, user_id: str) -> Response:
        user = visible_user(request.auth, user_id)
        held = Project.objects.filter(role_assignments__user=user).distinct()
        projects = filtered(ProjectFilterSet(request.query_params, held))
        return Response(
            {
                "projects": [s.render_project(p) for p in projects.order_by("name", "id")],
                "links": s.collection_links(f"users/{user.pk}/projects"),
            }
        )

"""Roles and role assignments: ``/v3/roles``, the grants
``/v3/projects/{p}/users/{u}/roles[/{r}]`` and ``/v3/role_assignments``.

Granting, revoking and reading grants are the admin's; roles themselves are readable by every
authenticated caller (a member names them in application credentials). Only project grants to
users exist here: filters on groups, domains or the system scope match nothing.
"""

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity import services
from apps.identity.api import admin_serializers as a
from apps.identity.api import serializers as s
from apps.identity.api.views import KeystoneView, bool_param, visible_project, visible_user
from apps.identity.exceptions import RoleNotFound
from apps.identity.models import Role, RoleAssignment


def _role(role_id: str) -> Role:
    role = Role.objects.filter(pk=role_id).first()
    if role is None:
        raise RoleNotFound(role=role_id)
    return role


class RoleListView(KeystoneView):
    """``GET /v3/roles`` (filter ``name``)."""

    policy_actions = {"get": "identity:list_roles"}

    def get(self, request: Request) -> Response:
        roles = Role.objects.all()
        if name := request.query_params.get("name"):
            roles = roles.filter(name=name)
        if request.query_params.get("domain_id"):
            roles = roles.none()  # every role here is global
        return Response(
            {"roles": [a.render_role(r) for r in roles], "links": s.collection_links("roles")}
        )


class RoleDetailView(KeystoneView):
    policy_actions = {"get": "identity:get_role"}

    def get(self, request: Request, role_id: str) -> Response:
        return Response({"role": a.render_role(_role(role_id))})


class GrantListView(KeystoneView):
    """``GET /v3/projects/{p}/users/{u}/roles``: the roles `u` holds on `p`."""

    policy_actions = {"get": "identity:list_grants"}

    def get(self, request: Request, project_id: str, user_id: str) -> Response:
        project = visible_project(request.auth, project_id)
        user = visible_user(request.auth, user_id)
        roles = Role.objects.filter(assignments__user=user, assignments__project=project)
        return Response(
            {
                "roles": [a.render_role(r) for r in roles.distinct()],
                "links": s.collection_links(f"projects/{project.pk}/users/{user.pk}/roles"),
            }
        )


class GrantView(KeystoneView):
    """``PUT`` (grant), ``HEAD``/``GET`` (check) and ``DELETE`` (revoke)
    ``/v3/projects/{p}/users/{u}/roles/{r}``; each answers 204."""

    policy_actions = {
        "put": "identity:create_grant",
        "head": "identity:check_grant",
        "get": "identity:check_grant",
        "delete": "identity:revoke_grant",
    }

    def put(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        project = visible_project(request.auth, project_id)
        user = visible_user(request.auth, user_id)
        services.grant_role(user=user, project=project, role=_role(role_id))
        return Response(status=204)

    def get(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        project = visible_project(request.auth, project_id)
        user = visible_user(request.auth, user_id)
        services.check_role(user=user, project=project, role=_role(role_id))
        return Response(status=204)

    def head(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        return self.get(request, project_id, user_id, role_id)

    def delete(self, request: Request, project_id: str, user_id: str, role_id: str) -> Response:
        project = visible_project(request.auth, project_id)
        user = visible_user(request.auth, user_id)
        services.revoke_role(user=user, project=project, role=_role(role_id))
        return Response(status=204)


# Keystone's filters that can only match grants this service does not have.
UNSERVED_FILTERS = ("group.id", "scope.domain.id", "scope.system", "scope.OS-INHERIT:inherited_to")


class RoleAssignmentListView(KeystoneView):
    """``GET /v3/role_assignments`` with ``user.id``, ``scope.project.id``, ``role.id``,
    ``include_names`` and ``effective``. Implied roles are stored as grants of their own, so
    the effective list is the same as the direct one."""

    policy_actions = {"get": "identity:list_role_assignments"}

    def get(self, request: Request) -> Response:
        params = request.query_params
        assignments: QuerySet[RoleAssignment] = RoleAssignment.objects.select_related(
            "role", "user__domain", "project__domain"
        )
        for param, field in (("user.id", "user_id"), ("scope.project.id", "project_id")):
            if value := params.get(param):
                assignments = assignments.filter(**{field: value})
        if role_id := params.get("role.id"):
            assignments = assignments.filter(role_id=role_id)
        if any(param in params for param in UNSERVED_FILTERS):
            assignments = assignments.none()
        include_names = bool(bool_param(request, "include_names"))
        rows = assignments.order_by("project__name", "user__username", "role__name")
        return Response(
            {
                "role_assignments": [
                    a.render_role_assignment(row, include_names=include_names) for row in rows
                ],
                "links": s.collection_links("role_assignments"),
            }
        )

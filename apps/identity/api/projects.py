"""``/v3/projects``: Keystone's project administration. Reads are scoped (admins see every
project, others the enabled ones they hold a role on; anything else is a 404); writes are
the admin's (policy ``identity:create_project``...)."""

from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity import services
from apps.identity.api import admin_serializers as a
from apps.identity.api import serializers as s
from apps.identity.api.views import KeystoneView, filtered, visible_project, visible_projects
from apps.identity.filtersets import ProjectFilterSet
from apps.identity.models import Domain
from computecloud.exceptions import InvalidInput


class ProjectListView(KeystoneView):
    """``GET /v3/projects`` (filters ``name``, ``domain_id``, ``enabled``); ``POST``."""

    policy_actions = {"get": "identity:list_projects", "post": "identity:create_project"}

    def get(self, request: Request) -> Response:
        projects = filtered(ProjectFilterSet(request.query_params, visible_projects(request.auth)))
        return Response(
            {
                "projects": [s.render_project(p) for p in projects.order_by("name", "id")],
                "links": s.collection_links("projects"),
            }
        )

    def post(self, request: Request) -> Response:
        body = a.ProjectCreateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data["project"]
        # Keystone's parent of a top-level project is its domain; nothing else is served.
        parent_id = data.get("parent_id")
        if parent_id and not Domain.objects.filter(pk=parent_id).exists():
            raise InvalidInput("Project hierarchies are not supported.")
        domain = services.get_domain(data.get("domain_id") or parent_id)
        if parent_id not in (None, domain.pk):
            raise InvalidInput("A project's parent must be its domain.")
        project = services.create_project(
            name=data["name"],
            domain=domain,
            description=data.get("description") or "",
            enabled=data.get("enabled", True),
        )
        return Response({"project": s.render_project(project)}, status=201)


class ProjectDetailView(KeystoneView):
    """``GET``, ``PATCH`` (name, description, enabled) and ``DELETE /v3/projects/{id}``."""

    policy_actions = {
        "get": "identity:get_project",
        "patch": "identity:update_project",
        "delete": "identity:delete_project",
    }

    def get(self, request: Request, project_id: str) -> Response:
        return Response({"project": s.render_project(visible_project(request.auth, project_id))})

    def patch(self, request: Request, project_id: str) -> Response:
        project = visible_project(request.auth, project_id)
        body = a.ProjectUpdateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data["project"]
        description = data.get("description")
        project = services.update_project(
            project=project,
            name=data.get("name"),
            description="" if "description" in data and description is None else description,
            enabled=data.get("enabled"),
        )
        return Response({"project": s.render_project(project)})

    def delete(self, request: Request, project_id: str) -> Response:
        services.delete_project(project=visible_project(request.auth, project_id))
        return Response(status=204)

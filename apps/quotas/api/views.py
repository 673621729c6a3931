"""os-quota-sets (show, detail, defaults, update, revert) and limits, as Nova serves them.

Quotas are per project: readers of a project see its quotas, admins see and set anyone's. A
non-admin asking for another project's quotas is refused by policy (403, as Nova does: the
target project is part of the rule). An unknown project is a 400, as Nova's Keystone check
gives. Per-user quotas (``?user_id=``) are not kept: reads answer the project's quotas (which
is what Nova answers for a user without quotas of their own) and writes refuse them.
"""

from typing import Any

from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity.models import Project
from apps.identity.policy import authorize
from apps.quotas import services
from apps.quotas.api import serializers as s
from apps.quotas.api.usage import project_usage
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.query import check_query
from computecloud.exceptions import InvalidInput


class QuotaSetViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "retrieve": "os_compute_api:os-quota-sets:show",
        "detail_view": "os_compute_api:os-quota-sets:detail",
        "defaults": "os_compute_api:os-quota-sets:defaults",
        "update": "os_compute_api:os-quota-sets:update",
        "destroy": "os_compute_api:os-quota-sets:delete",
    }

    def _project(self, request: Request, project_id: str, *, verify: bool = True) -> Project:
        """Authorise on the target project, then make sure it exists (Nova's order)."""
        authorize(request.auth, self.policy_actions[self.action], {"project_id": project_id})
        project = Project.objects.filter(pk=project_id).first()
        if project is None and verify:
            raise InvalidInput(f"Project ID {project_id} is not a valid project.")
        return project  # type: ignore[return-value]

    def _no_user_quotas(self, request: Request) -> None:
        if "user_id" in request.query_params:
            raise InvalidInput("Per-user quotas are not supported; set the project's quotas.")

    def retrieve(self, request: Request, pk: str) -> Response:
        check_query(request, {"user_id"})
        project = self._project(request, pk)
        return Response(s.quota_set(services.get_limits(project.pk), request.version, pk))

    @action(detail=True, methods=["get"], url_path="detail")
    def detail_view(self, request: Request, pk: str) -> Response:
        # (not named "detail": DRF sets that attribute on every viewset instance)
        check_query(request, {"user_id"})
        project = self._project(request, pk)
        limits = services.get_limits(project.pk)
        usage = project_usage(project.pk)
        values = {r: {"in_use": usage[r], "limit": limits[r], "reserved": 0} for r in limits}
        return Response(s.quota_set(values, request.version, pk))

    @action(detail=True, methods=["get"], url_path="defaults")
    def defaults(self, request: Request, pk: str) -> Response:
        self._project(request, pk)
        return Response(s.quota_set(services.default_limits(), request.version, pk))

    def update(self, request: Request, pk: str) -> Response:
        check_query(request, {"user_id"})
        self._no_user_quotas(request)
        project = self._project(request, pk)
        serializer = s.update_serializer(request.version, request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data["quota_set"])
        force = data.pop("force", False)
        limits = services.update_quotas(
            project=project, limits=data, force=force, count_usage=project_usage
        )
        # Nova leaves "id" out of the update response.
        return Response(s.quota_set(limits, request.version, None))

    def destroy(self, request: Request, pk: str) -> Response:
        check_query(request, {"user_id"})
        self._no_user_quotas(request)
        project = self._project(request, pk, verify=False)
        if project is not None:
            services.revert_quotas(project=project)
        return Response(status=202)


class LimitsView(MicroversionedMixin, APIView):
    """``GET /limits``: the caller's project's absolute limits and usage; no rate limits.
    ``?tenant_id=`` (admins) asks about another project."""

    policy_actions = {"get": "os_compute_api:limits"}

    def get(self, request: Request) -> Response:
        check_query(request, {"tenant_id"})
        project_id = request.auth.project_id
        if "tenant_id" in request.query_params:
            authorize(request.auth, "os_compute_api:limits:other_project")
            project_id = request.query_params["tenant_id"]
        if project_id is None:
            limits, usage = services.default_limits(), project_usage("")
        else:
            limits, usage = services.get_limits(project_id), project_usage(project_id)
        absolute = s.absolute_limits(limits, usage, request.version)
        return Response({"limits": {"rate": [], "absolute": absolute}})

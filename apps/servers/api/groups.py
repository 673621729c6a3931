"""os-server-groups: list, show, create and delete server groups.

Shapes by microversion, as Nova's: ``policies`` (a one-item list) and an always-empty
``metadata`` before 2.64, ``policy`` and ``rules`` from 2.64; ``project_id``/``user_id`` from
2.13; the soft policies from 2.15. ``members`` lists the uuids of the group's servers that are
not deleted. The writes are in `apps.servers.groups`.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.policy import authorize
from apps.servers import groups
from apps.servers.models import ServerGroup
from computecloud.api.microversions import APIVersion, MicroversionedMixin
from computecloud.api.pagination import MAX_LIMIT, parse_limit, parse_offset
from computecloud.api.query import check_query
from computecloud.api.serializers import StrictSerializer

POLICIES_V21 = (groups.ANTI_AFFINITY, groups.AFFINITY)
POLICIES_V215 = (*POLICIES_V21, groups.SOFT_ANTI_AFFINITY, groups.SOFT_AFFINITY)


# --- requests -----------------------------------------------------------------------------------
def _validate_name(value: str) -> str:
    """Nova's ``name`` parameter: printable, not starting or ending with whitespace."""
    if value != value.strip() or not value.isprintable():
        raise serializers.ValidationError(
            "printable characters. Can not start or end with whitespace."
        )
    return value


class GroupBodyV21(StrictSerializer):
    """2.1 to 2.63: ``policies`` is a list of exactly one policy."""

    name = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)
    policies = serializers.ListField(
        child=serializers.CharField(), min_length=1, max_length=1, allow_empty=False
    )

    def validate_name(self, value: str) -> str:
        return _validate_name(value)

    def validate_policies(self, value: list[str]) -> list[str]:
        version: APIVersion = self.context["version"]
        allowed = POLICIES_V215 if version >= (2, 15) else POLICIES_V21
        if value[0] not in allowed:
            raise serializers.ValidationError(
                f"{value[0]!r} is not one of {', '.join(repr(p) for p in allowed)}."
            )
        return value


class GroupRules(StrictSerializer):
    max_server_per_host = serializers.IntegerField(min_value=1, required=False)


class GroupBodyV264(StrictSerializer):
    """2.64 on: one ``policy`` and optional ``rules`` (anti-affinity only)."""

    name = serializers.CharField(min_length=1, max_length=255, trim_whitespace=False)
    policy = serializers.ChoiceField(choices=POLICIES_V215)
    rules = GroupRules(required=False)

    def validate_name(self, value: str) -> str:
        return _validate_name(value)


class CreateV21(StrictSerializer):
    server_group = GroupBodyV21()


class CreateV264(StrictSerializer):
    server_group = GroupBodyV264()


# --- responses ----------------------------------------------------------------------------------
def server_group_view(group: ServerGroup, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"id": str(group.uuid), "name": group.name}
    if version >= (2, 64):
        body["policy"] = group.policy
        rules = group.rules or {}
        body["rules"] = (
            {"max_server_per_host": int(rules["max_server_per_host"])}
            if "max_server_per_host" in rules
            else {}
        )
    else:
        body["policies"] = [group.policy]
        # Nova exposed it once and never used it; it stays empty until 2.64 drops it.
        body["metadata"] = {}
    body["members"] = [str(m.server.uuid) for m in getattr(group, "live_members", [])]
    if version >= (2, 13):
        body["project_id"] = group.project_id
        body["user_id"] = group.user_id
    return body


# --- views --------------------------------------------------------------------------------------
class ServerGroupViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-server-groups:index",
        "retrieve": "os_compute_api:os-server-groups:show",
        "create": "os_compute_api:os-server-groups:create",
        "destroy": "os_compute_api:os-server-groups:delete",
    }

    def list(self, request: Request) -> Response:
        check_query(request, {"all_projects", "limit", "offset"})
        context = request.auth
        # Nova: all_projects is honoured for admins only; others get their own project's.
        all_projects = "all_projects" in request.query_params and context.is_admin
        if all_projects:
            authorize(context, "os_compute_api:os-server-groups:index:all_projects")
        offset = parse_offset(request)
        # Nova's `limited`: no limit, or 0, means the maximum page.
        limit = parse_limit(request) or MAX_LIMIT
        queryset = groups.visible_server_groups(context, all_projects=all_projects)
        rows = list(groups.with_live_members(queryset)[offset : offset + limit])
        return Response({"server_groups": [server_group_view(g, request.version) for g in rows]})

    def retrieve(self, request: Request, pk: str) -> Response:
        group = groups.get_server_group(request.auth, pk)
        authorize(
            request.auth,
            "os_compute_api:os-server-groups:show",
            target={"project_id": group.project_id},
        )
        return Response({"server_group": server_group_view(group, request.version)})

    def create(self, request: Request) -> Response:
        version = request.version
        serializer_class = CreateV264 if version >= (2, 64) else CreateV21
        serializer = serializer_class(data=request.data, context={"version": version})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["server_group"]
        if version >= (2, 64):
            policy, rules = data["policy"], dict(data.get("rules") or {})
        else:
            policy, rules = data["policies"][0], {}
        group = groups.create_server_group(
            context=request.auth, name=data["name"], policy=policy, rules=rules
        )
        return Response({"server_group": server_group_view(group, version)})

    def destroy(self, request: Request, pk: str) -> Response:
        group = groups.get_server_group(request.auth, pk)
        authorize(
            request.auth,
            "os_compute_api:os-server-groups:delete",
            target={"project_id": group.project_id},
        )
        groups.delete_server_group(context=request.auth, group=group)
        return Response(status=204)

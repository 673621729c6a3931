"""The Cinder v3 compatible block-storage API under ``/volume/`` (docs/volumes.md).

Views parse, authorise and call one service (apps.volumes.services). Which volumes a caller
sees is the services' querysets' business: another project's id answers as an unknown one
(404). Errors leave in Cinder's shape, which is Nova's (``{"itemNotFound": {...}}``).
"""

import uuid
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.identity.policy import authorize
from apps.quotas import services as quotas
from apps.volumes import services
from apps.volumes.api import bodies
from apps.volumes.api import requests as parse
from apps.volumes.api.microversions import MAX_VERSION, MIN_VERSION, VolumeMicroversionedMixin
from apps.volumes.models import Volume, VolumeSnapshot
from computecloud.api.pagination import next_links, paginate
from computecloud.api.parsers import StrictJSONParser
from computecloud.exceptions import InvalidInput, NotFound


def _context(request: Request) -> RequestContext:
    context = request.auth
    assert isinstance(context, RequestContext)  # PolicyPermission let the request in
    return context


def _url(path: str) -> str:
    return f"{settings.PUBLIC_URL}/volume/v3/{path}"


class VolumeAPIMixin(VolumeMicroversionedMixin):
    parser_classes = [StrictJSONParser]


# --- discovery --------------------------------------------------------------------------------
def _v3_entry() -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2023-08-31T00:00:00Z",
        "links": [{"rel": "self", "href": f"{settings.PUBLIC_URL}/volume/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


class VolumeVersionsView(VolumeAPIMixin, APIView):
    """``GET /volume/``: the versions, 300 Multiple Choices (no token)."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"versions": [_v3_entry()]}, status=status.HTTP_300_MULTIPLE_CHOICES)


class VolumeV3View(VolumeAPIMixin, APIView):
    """``GET /volume/v3/``: the version itself (no token)."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"versions": [_v3_entry()]})


# --- volumes ----------------------------------------------------------------------------------
CREATE_KEYS = (
    "name", "description", "display_name", "display_description", "size", "volume_type",
    "availability_zone", "metadata", "imageRef", "image_id", "snapshot_id", "source_volid",
    "consistencygroup_id", "group_id", "backup_id", "multiattach",
)  # fmt: skip
UPDATE_KEYS = ("name", "description", "display_name", "display_description", "metadata")
LIST_ORDER = ("-created_at", "-id")


def _page(
    request: Request, query: QuerySet[Any], scope: QuerySet[Any], name: str
) -> tuple[list[Any], dict[str, Any]]:
    rows, limit = paginate(request, query, order=LIST_ORDER, marker_lookup="pk", marker_scope=scope)
    links = next_links(
        request, rows, limit, base_url=_url(request.path.split("/v3/", 1)[1]),
        marker_of=lambda row: row.pk, name=name,
    )  # fmt: skip
    return rows, links


def _owner_filter(request: Request, query: QuerySet[Any]) -> QuerySet[Any]:
    """Cinder's scoping of lists: a project's own rows; an admin's ``all_tenants`` widens
    that to every project (narrowed again by ``project_id``)."""
    context = _context(request)
    if context.is_admin and parse.query_boolean(request, "all_tenants"):
        project_id = request.query_params.get("project_id")
        return query.filter(project_id=project_id) if project_id else query
    return query.filter(project_id=context.project_id)


class VolumeViewSet(VolumeAPIMixin, ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "volume:get_all",
        "list_detail": "volume:get_all",
        "retrieve": "volume:get",
        "create": "volume:create",
        "update": "volume:update",
        "destroy": "volume:delete",
        "volume_action": "volume:update",
        "metadata": "volume:get_volume_metadata",
        **dict.fromkeys(("post", "put", "patch", "delete"), "volume:update"),
    }

    def _one(self, request: Request, pk: str) -> Volume:
        return services.find_volume(context=_context(request), volume_id=pk)

    def _listed(self, request: Request) -> QuerySet[Volume]:
        context = _context(request)
        scope = services.visible_volumes(context)
        query = _owner_filter(request, scope)
        params = request.query_params
        for key in ("name", "status", "user_id", "availability_zone"):
            if key in params:
                query = query.filter(**{key: params[key]})
        metadata = parse.metadata_filter(params.get("metadata"))
        if metadata:
            query = query.filter(metadata__contains=metadata)
        return query

    def list(self, request: Request) -> Response:
        query = self._listed(request)
        rows, links = _page(request, query, services.visible_volumes(_context(request)), "volumes")
        return Response({"volumes": [bodies.volume_summary(v) for v in rows], **links})

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        context = _context(request)
        query = self._listed(request).prefetch_related("attachments")
        rows, links = _page(request, query, services.visible_volumes(context), "volumes")
        volumes = [bodies.volume_body(v, context, request.version) for v in rows]
        return Response({"volumes": volumes, **links})

    def retrieve(self, request: Request, pk: str) -> Response:
        volume = self._one(request, pk)
        return Response({"volume": bodies.volume_body(volume, _context(request), request.version)})

    def create(self, request: Request) -> Response:
        context = _context(request)
        body = parse.member(request, "volume")
        parse.check_keys(body, CREATE_KEYS, request.version)
        for unsupported in ("backup_id", "consistencygroup_id", "group_id"):
            if body.get(unsupported) is not None:
                raise InvalidInput(f"Invalid input received: {unsupported} is not supported.")
        if parse.boolean(body.get("multiattach"), "multiattach"):
            raise InvalidInput("Invalid input received: multiattach volumes are not supported.")
        volume = services.create_volume(
            context=context,
            size=body.get("size"),
            name=parse.alias(body, "name", "display_name"),
            description=parse.alias(body, "description", "display_description"),
            metadata=body.get("metadata"),
            volume_type=body.get("volume_type"),
            availability_zone=body.get("availability_zone"),
            image_ref=parse.alias(body, "imageRef", "image_id"),
            snapshot_id=body.get("snapshot_id"),
            source_volid=body.get("source_volid"),
        )
        answer = bodies.volume_body(volume, context, request.version, detail=False)
        return Response({"volume": answer}, status=status.HTTP_202_ACCEPTED)

    def update(self, request: Request, pk: str) -> Response:
        context = _context(request)
        volume = self._one(request, pk)
        body = parse.member(request, "volume")
        parse.check_keys(body, UPDATE_KEYS, request.version)
        if not body:
            raise InvalidInput("Invalid input received: the volume's body is empty.")
        changes = {
            field: parse.alias(body, field, f"display_{field}")
            for field in ("name", "description")
            if field in body or f"display_{field}" in body
        }
        if "metadata" in body:
            changes["metadata"] = body["metadata"]
        services.update_volume(volume=volume, **changes)
        answer = bodies.volume_body(volume, context, request.version, detail=False)
        return Response({"volume": answer})

    def destroy(self, request: Request, pk: str) -> Response:
        volume = self._one(request, pk)
        services.delete_volume(
            context=_context(request),
            volume=volume,
            cascade=parse.query_boolean(request, "cascade"),
            force=parse.query_boolean(request, "force"),
        )
        return Response(status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"], url_path="action")
    def volume_action(self, request: Request, pk: str) -> Response:
        context = _context(request)
        volume = self._one(request, pk)
        data = request.data
        if not isinstance(data, dict) or len(data) != 1:
            raise InvalidInput("Invalid input received: give exactly one action.")
        name, args = next(iter(data.items()))
        handler = VOLUME_ACTIONS.get(name)
        if handler is None:
            raise InvalidInput(f"There is no such action: {name}")
        policy, run = handler
        authorize(context, policy, {"project_id": volume.project_id})
        if not isinstance(args, dict):
            raise InvalidInput(f"Invalid input received: {name} takes an object.")
        return run(request, volume, args)

    @action(detail=True, methods=["get", "post", "put"])
    def metadata(self, request: Request, pk: str) -> Response:
        context = _context(request)
        volume = self._one(request, pk)
        if request.method == "GET":
            return Response({"metadata": dict(volume.metadata)})
        authorize(context, "volume:update_volume_metadata", {"project_id": volume.project_id})
        body = parse.member(request, "metadata")
        merged = services.set_volume_metadata(
            volume=volume, metadata=body, replace=request.method == "PUT"
        )
        return Response({"metadata": merged})


def _extend(request: Request, volume: Volume, args: dict[str, Any]) -> Response:
    parse.check_keys(args, ("new_size",), request.version, strict=True)
    if "new_size" not in args:
        raise InvalidInput("Invalid input received: new_size is required.")
    services.extend_volume(
        volume=volume,
        new_size=args["new_size"],
        allow_in_use=request.version >= (3, 42),
        request_id=_context(request).request_id,
    )
    return Response(status=status.HTTP_202_ACCEPTED)


def _set_bootable(request: Request, volume: Volume, args: dict[str, Any]) -> Response:
    parse.check_keys(args, ("bootable",), request.version, strict=True)
    if args.get("bootable") is None:
        raise InvalidInput("Invalid input received: bootable is required.")
    services.set_bootable(volume=volume, bootable=parse.boolean(args["bootable"], "bootable"))
    return Response(status=status.HTTP_200_OK)


def _reset_status(request: Request, volume: Volume, args: dict[str, Any]) -> Response:
    parse.check_keys(args, ("status", "attach_status", "migration_status"), request.version)
    if not isinstance(args.get("status"), str):
        raise InvalidInput("Invalid input received: status is required.")
    services.reset_status(volume=volume, status=args["status"].lower())
    return Response(status=status.HTTP_202_ACCEPTED)


VOLUME_ACTIONS = {
    "os-extend": ("volume:extend", _extend),
    "os-set_bootable": ("volume:update", _set_bootable),
    "os-reset_status": ("volume_extension:volume_admin_actions:reset_status", _reset_status),
}


class VolumeMetadataItemView(VolumeAPIMixin, APIView):
    """``/volumes/{id}/metadata/{key}``: one item (GET, PUT, DELETE)."""

    policy_actions = {
        "get": "volume:get_volume_metadata",
        "put": "volume:update_volume_metadata",
        "delete": "volume:delete_volume_metadata",
    }

    def get(self, request: Request, volume_id: str, key: str) -> Response:
        volume = services.find_volume(context=_context(request), volume_id=volume_id)
        if key not in volume.metadata:
            raise NotFound(f"Metadata item was not found: {key}")
        return Response({"meta": {key: volume.metadata[key]}})

    def put(self, request: Request, volume_id: str, key: str) -> Response:
        volume = services.find_volume(context=_context(request), volume_id=volume_id)
        meta = request.data.get("meta") if isinstance(request.data, dict) else None
        if not isinstance(meta, dict) or list(meta) != [key]:
            raise InvalidInput("Invalid input received: the body must be {'meta': {key: value}}.")
        services.set_volume_metadata(volume=volume, metadata=meta)
        return Response({"meta": meta})

    def delete(self, request: Request, volume_id: str, key: str) -> Response:
        volume = services.find_volume(context=_context(request), volume_id=volume_id)
        services.delete_volume_metadata(volume=volume, key=key)
        return Response(status=status.HTTP_200_OK)


# --- snapshots --------------------------------------------------------------------------------
SNAPSHOT_KEYS = (
    "volume_id", "name", "description", "display_name", "display_description", "metadata",
    "force",
)  # fmt: skip


class SnapshotViewSet(VolumeAPIMixin, ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "volume:get_all_snapshots",
        "list_detail": "volume:get_all_snapshots",
        "retrieve": "volume:get_snapshot",
        "create": "volume:create_snapshot",
        "update": "volume:update_snapshot",
        "destroy": "volume:delete_snapshot",
        **dict.fromkeys(("post", "put", "patch", "delete"), "volume:update_snapshot"),
    }

    def _listed(self, request: Request) -> QuerySet[VolumeSnapshot]:
        query = _owner_filter(request, services.visible_snapshots(_context(request)))
        for key in ("name", "status", "volume_id"):
            if key in request.query_params:
                value = request.query_params[key]
                if key == "volume_id" and not _is_uuid(value):
                    return query.none()
                query = query.filter(**{key: value})
        return query

    def _page(self, request: Request, detail: bool) -> Response:
        scope = services.visible_snapshots(_context(request))
        rows, links = _page(request, self._listed(request), scope, "snapshots")
        items = [bodies.snapshot_body(s, request.version, detail=detail) for s in rows]
        return Response({"snapshots": items, **links})

    def list(self, request: Request) -> Response:
        return self._page(request, detail=False)

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        return self._page(request, detail=True)

    def retrieve(self, request: Request, pk: str) -> Response:
        snapshot = services.find_snapshot(context=_context(request), snapshot_id=pk)
        return Response({"snapshot": bodies.snapshot_body(snapshot, request.version)})

    def create(self, request: Request) -> Response:
        context = _context(request)
        body = parse.member(request, "snapshot")
        parse.check_keys(body, SNAPSHOT_KEYS, request.version)
        if "volume_id" not in body:
            raise InvalidInput("Invalid input received: volume_id is required.")
        volume = services.find_volume(context=context, volume_id=body["volume_id"])
        force = parse.boolean(body.get("force"), "force")
        at_366 = request.version >= (3, 66)
        if at_366 and "force" in body and not force:
            raise InvalidInput(
                "Invalid input received: the force flag is not allowed to be false from "
                "microversion 3.66."
            )
        snapshot = services.create_snapshot(
            context=context,
            volume=volume,
            name=parse.alias(body, "name", "display_name"),
            description=parse.alias(body, "description", "display_description"),
            metadata=body.get("metadata"),
            force=force,
            allow_in_use=at_366,
        )
        answer = bodies.snapshot_body(snapshot, request.version, detail=False)
        return Response({"snapshot": answer}, status=status.HTTP_202_ACCEPTED)

    def update(self, request: Request, pk: str) -> Response:
        snapshot = services.find_snapshot(context=_context(request), snapshot_id=pk)
        body = parse.member(request, "snapshot")
        parse.check_keys(body, ("name", "description", "display_name", "display_description"),
                         request.version)  # fmt: skip
        changes = {
            field: parse.alias(body, field, f"display_{field}")
            for field in ("name", "description")
            if field in body or f"display_{field}" in body
        }
        services.update_snapshot(snapshot=snapshot, **changes)
        return Response({"snapshot": bodies.snapshot_body(snapshot, request.version, detail=False)})

    def destroy(self, request: Request, pk: str) -> Response:
        snapshot = services.find_snapshot(context=_context(request), snapshot_id=pk)
        services.delete_snapshot(snapshot=snapshot, request_id=_context(request).request_id)
        return Response(status=status.HTTP_202_ACCEPTED)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- types, limits, quotas, zones -------------------------------------------------------------
class VolumeTypeViewSet(VolumeAPIMixin, ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "volume_extension:type_get_all",
        "retrieve": "volume_extension:type_get",
        **dict.fromkeys(("post", "put", "patch", "delete"), "volume_extension:types_manage"),
    }

    def list(self, request: Request) -> Response:
        raw = request.query_params.get("is_public")
        is_public = (
            None if raw is None or raw.lower() == "none" else parse.boolean(raw, "is_public")
        )
        if raw is None:
            is_public = True
        kinds = services.visible_types(_context(request), is_public=is_public)
        context = _context(request)
        return Response({"volume_types": [bodies.type_body(k, context) for k in kinds]})

    def retrieve(self, request: Request, pk: str) -> Response:
        context = _context(request)
        kind = services.find_volume_type(context=context, key=pk)
        return Response({"volume_type": bodies.type_body(kind, context)})


class LimitsView(VolumeAPIMixin, APIView):
    policy_actions = {"get": "limits_extension:used_limits"}

    def get(self, request: Request) -> Response:
        project_id = _context(request).project_id
        if project_id is None:
            raise InvalidInput("Invalid input received: a project-scoped token is required.")
        limits = quotas.get_volume_limits(project_id)
        return Response(bodies.limits_body(limits, services.count_volume_usage(project_id)))


class QuotaSetViewSet(VolumeAPIMixin, ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "retrieve": "volume_extension:quotas:show",
        "defaults": "volume_extension:quotas:show",
        "update": "volume_extension:quotas:update",
        "destroy": "volume_extension:quotas:delete",
        **dict.fromkeys(("post", "put", "patch", "delete"), "volume_extension:quotas:update"),
    }

    def _project(self, request: Request, pk: str, policy: str) -> Project:
        authorize(_context(request), policy, {"project_id": pk})
        project = Project.objects.filter(pk=pk).first()
        if project is None:
            raise NotFound(f"Project {pk} could not be found.")
        return project

    def retrieve(self, request: Request, pk: str) -> Response:
        project = self._project(request, pk, "volume_extension:quotas:show")
        with_usage = parse.query_boolean(request, "usage")
        used = services.count_volume_usage(project.pk) if with_usage else None
        limits = quotas.get_volume_limits(project.pk)
        return Response(bodies.quota_set_body(project.pk, limits, used))

    @action(detail=True, methods=["get"])
    def defaults(self, request: Request, pk: str) -> Response:
        authorize(_context(request), "volume_extension:quotas:show", {"project_id": pk})
        return Response(bodies.quota_set_body(pk, quotas.volume_default_limits(), None))

    def update(self, request: Request, pk: str) -> Response:
        project = self._project(request, pk, "volume_extension:quotas:update")
        body = parse.member(request, "quota_set")
        limits: dict[str, int] = {}
        for resource, value in body.items():
            if resource == "id":
                continue
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise InvalidInput(f"Invalid input received: {resource} must be an integer.")
            try:
                limits[resource] = int(value)
            except ValueError:
                raise InvalidInput(
                    f"Invalid input received: {resource} must be an integer."
                ) from None
        updated = quotas.update_volume_quotas(
            project=project, limits=limits, count_usage=services.count_volume_usage
        )
        return Response(bodies.quota_set_body(project.pk, updated, None))

    def destroy(self, request: Request, pk: str) -> Response:
        project = self._project(request, pk, "volume_extension:quotas:delete")
        quotas.revert_volume_quotas(project=project)
        return Response(status=status.HTTP_200_OK)


class AvailabilityZoneView(VolumeAPIMixin, APIView):
    policy_actions = {"get": "volume_extension:availability_zone_list"}

    def get(self, request: Request) -> Response:
        zones = [{"zoneName": "nova", "zoneState": {"available": True}}]
        return Response({"availabilityZoneInfo": zones})


class ExtensionsView(VolumeAPIMixin, APIView):
    policy_actions = {"get": "volume_extension:availability_zone_list"}

    def get(self, request: Request) -> Response:
        return Response({"extensions": []})

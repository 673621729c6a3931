"""The Compute API's volume proxies, answered from the volume service as Nova answers them
from Cinder (compute-style errors, Nova's camelCase shapes; CINDER-SUBSET.md 3.4):

- ``/os-volumes`` (list, detail, show, create, delete);
- ``/os-snapshots`` (list, detail, show, create, delete).

Both are gone from microversion 2.36 (404), as in Nova. The list takes ``offset`` and
``limit`` over the volume service's order (newest first); ``/os-volumes/`` with an empty id
is a 404, not the list.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.context import RequestContext
from apps.volumes import services
from apps.volumes.api import requests as parse
from apps.volumes.choices import AttachStatus
from apps.volumes.models import Volume, VolumeSnapshot
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.pagination import parse_limit, parse_offset
from computecloud.api.timeformat import iso_micro
from computecloud.exceptions import InvalidInput, NotFound

REMOVED_IN = (2, 36)
VOLUME_KEYS = (
    "size", "display_name", "display_description", "metadata", "volume_type",
    "availability_zone", "snapshot_id",
)  # fmt: skip
SNAPSHOT_KEYS = ("volume_id", "display_name", "display_description", "force")


def _context(request: Request) -> RequestContext:
    context = request.auth
    assert isinstance(context, RequestContext)
    return context


class _VolumeProxyView(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.version >= REMOVED_IN:
            raise NotFound("The volume proxy APIs were removed in microversion 2.36.")
        # ``/os-volumes/`` names no volume: Nova's router answers 404, not the list.
        if request.path.endswith("/"):
            raise NotFound("The resource could not be found.")

    def _window(self, request: Request, query: QuerySet[Any]) -> list[Any]:
        offset = parse_offset(request)
        return list(query.order_by("-created_at", "-id")[offset : offset + parse_limit(request)])

    @staticmethod
    def _body(request: Request, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        data = request.data
        if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key], dict):
            raise InvalidInput(f"Invalid input for field/attribute {key}.")
        body = data[key]
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise InvalidInput(f"Additional properties are not allowed ({', '.join(unknown)}).")
        return body


# --- os-volumes ---------------------------------------------------------------------------------
def volume_view(volume: Volume) -> dict[str, Any]:
    attached = [a for a in volume.attachments.all() if a.status == AttachStatus.ATTACHED]
    attachments = [
        {
            "id": str(volume.pk),
            "volumeId": str(volume.pk),
            "serverId": str(a.instance_uuid),
            **({"device": a.device} if a.device else {}),
        }
        for a in attached
    ]
    return {
        "id": str(volume.pk),
        "status": volume.status,
        "size": volume.size,
        "availabilityZone": volume.availability_zone or "",
        "createdAt": iso_micro(volume.created_at),
        "displayName": volume.name,
        "displayDescription": volume.description,
        "volumeType": volume.volume_type.name,
        "snapshotId": str(volume.snapshot_id) if volume.snapshot_id else None,
        "metadata": dict(volume.metadata),
        "attachments": attachments or [{}],
    }


def _size(value: Any) -> Any:
    """Nova's schema: an integer, or a string of digits, at least 1."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("Invalid input for field/attribute size.")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise InvalidInput(f"Invalid input for field/attribute size. Value: {value}.")
    if int(value) < 1:
        raise InvalidInput(f"Invalid input for field/attribute size. Value: {value}.")
    return int(value)


class VolumeViewSet(_VolumeProxyView):
    policy_actions = {
        "list": "os_compute_api:os-volumes:list",
        "list_detail": "os_compute_api:os-volumes:detail",
        "retrieve": "os_compute_api:os-volumes:show",
        "create": "os_compute_api:os-volumes:create",
        "destroy": "os_compute_api:os-volumes:delete",
        **dict.fromkeys(("post", "put", "patch", "delete"), "os_compute_api:os-volumes:create"),
    }

    def _listed(self, request: Request) -> Response:
        query = services.visible_volumes(_context(request)).filter(
            project_id=_context(request).project_id
        )
        rows = self._window(request, query.prefetch_related("attachments"))
        return Response({"volumes": [volume_view(v) for v in rows]})

    def list(self, request: Request) -> Response:
        return self._listed(request)

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        return self._listed(request)

    def retrieve(self, request: Request, pk: str) -> Response:
        volume = services.find_volume(context=_context(request), volume_id=pk)
        return Response({"volume": volume_view(volume)})

    def create(self, request: Request) -> Response:
        body = self._body(request, "volume", VOLUME_KEYS)
        if "size" not in body:
            raise InvalidInput("Invalid input for field/attribute volume: 'size' is required.")
        volume = services.create_volume(
            context=_context(request),
            size=_size(body["size"]),
            name=body.get("display_name"),
            description=body.get("display_description"),
            metadata=body.get("metadata"),
            volume_type=body.get("volume_type"),
            availability_zone=body.get("availability_zone"),
            snapshot_id=body.get("snapshot_id"),
        )
        return Response({"volume": volume_view(volume)})

    def destroy(self, request: Request, pk: str) -> Response:
        volume = services.find_volume(context=_context(request), volume_id=pk)
        services.delete_volume(context=_context(request), volume=volume)
        return Response(status=status.HTTP_202_ACCEPTED)


# --- os-snapshots -------------------------------------------------------------------------------
def snapshot_view(snapshot: VolumeSnapshot) -> dict[str, Any]:
    return {
        "id": str(snapshot.pk),
        "volumeId": str(snapshot.volume_id),
        "status": snapshot.status,
        "size": snapshot.size,
        "createdAt": iso_micro(snapshot.created_at),
        "displayName": snapshot.name,
        "displayDescription": snapshot.description,
    }


class SnapshotViewSet(_VolumeProxyView):
    policy_actions = {
        "list": "os_compute_api:os-volumes:snapshots:list",
        "list_detail": "os_compute_api:os-volumes:snapshots:detail",
        "retrieve": "os_compute_api:os-volumes:snapshots:show",
        "create": "os_compute_api:os-volumes:snapshots:create",
        "destroy": "os_compute_api:os-volumes:snapshots:delete",
        **dict.fromkeys(
            ("post", "put", "patch", "delete"), "os_compute_api:os-volumes:snapshots:create"
        ),
    }

    def _listed(self, request: Request) -> Response:
        query = services.visible_snapshots(_context(request)).filter(
            project_id=_context(request).project_id
        )
        return Response({"snapshots": [snapshot_view(s) for s in self._window(request, query)]})

    def list(self, request: Request) -> Response:
        return self._listed(request)

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        return self._listed(request)

    def retrieve(self, request: Request, pk: str) -> Response:
        snapshot = services.find_snapshot(context=_context(request), snapshot_id=pk)
        return Response({"snapshot": snapshot_view(snapshot)})

    def create(self, request: Request) -> Response:
        body = self._body(request, "snapshot", SNAPSHOT_KEYS)
        if "volume_id" not in body:
            raise InvalidInput(
                "Invalid input for field/attribute snapshot: 'volume_id' is required."
            )
        context = _context(request)
        volume = services.find_volume(context=context, volume_id=body["volume_id"])
        snapshot = services.create_snapshot(
            context=context,
            volume=volume,
            name=body.get("display_name"),
            description=body.get("display_description"),
            force=parse.boolean(body.get("force"), "force"),
        )
        return Response({"snapshot": snapshot_view(snapshot)})

    def destroy(self, request: Request, pk: str) -> Response:
        snapshot = services.find_snapshot(context=_context(request), snapshot_id=pk)
        services.delete_snapshot(snapshot=snapshot, request_id=_context(request).request_id)
        return Response(status=status.HTTP_202_ACCEPTED)

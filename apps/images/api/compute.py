"""The Compute API's image proxy: ``/compute/v2.1/images`` and their metadata (2.1-2.35).

Nova answers these from Glance; we answer them from the same image records the Glance API
serves, in Nova's shapes and errors (compute style). From microversion 2.36 they are gone
(404), as in Nova, and clients use ``/image/v2`` instead. Which images a caller sees is the
queryset's business, who may change one is ownership, as in the Glance API.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db.models import Q
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.identity.context import RequestContext
from apps.images import services
from apps.images.choices import ImageStatus
from apps.images.exceptions import ImageMetadataNotProperty, ImageNotOwned
from apps.images.models import Image
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.pagination import next_links, parse_limit
from computecloud.api.serializers import StrictSerializer
from computecloud.api.timeformat import iso
from computecloud.exceptions import InvalidInput, NotFound

# Glance statuses as Nova shows them, and the progress it reports for each.
NOVA_STATUS = {
    ImageStatus.ACTIVE: "ACTIVE",
    ImageStatus.QUEUED: "SAVING",
    ImageStatus.SAVING: "SAVING",
    ImageStatus.UPLOADING: "SAVING",
    ImageStatus.IMPORTING: "SAVING",
    ImageStatus.KILLED: "ERROR",
    ImageStatus.DELETED: "DELETED",
    ImageStatus.PENDING_DELETE: "DELETED",
}
PROGRESS = {ImageStatus.QUEUED: 25, ImageStatus.SAVING: 50, ImageStatus.ACTIVE: 100}
REMOVED_IN = (2, 36)
ORDER = ("-created_at", "-id")


def _links(image_id: str) -> list[dict[str, str]]:
    base = settings.PUBLIC_URL
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/images/{image_id}"},
        {"rel": "bookmark", "href": f"{base}/compute/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{base}/image/images/{image_id}",
        },
    ]


def image_summary(image: Image) -> dict[str, Any]:
    return {"id": str(image.pk), "name": image.name, "links": _links(str(image.pk))}


def image_detail(image: Image) -> dict[str, Any]:
    properties = dict(image.properties or {})
    body = {
        **image_summary(image),
        "status": NOVA_STATUS.get(image.status, "UNKNOWN"),
        "progress": PROGRESS.get(image.status, 0),
        "minDisk": image.min_disk,
        "minRam": image.min_ram,
        "metadata": properties,
        "created": iso(image.created_at),
        "updated": iso(image.updated_at),
        "OS-EXT-IMG-SIZE:size": image.size,
    }
    if server_uuid := properties.get("instance_uuid"):
        base = settings.PUBLIC_URL
        body["server"] = {
            "id": server_uuid,
            "links": [
                {"rel": "self", "href": f"{base}/compute/v2.1/servers/{server_uuid}"},
                {"rel": "bookmark", "href": f"{base}/compute/servers/{server_uuid}"},
            ],
        }
    if "auto_disk_config" in properties:
        auto = properties["auto_disk_config"].lower() in ("true", "1", "yes")
        body["OS-DCF:diskConfig"] = "AUTO" if auto else "MANUAL"
    return body


def _last_segment(value: str) -> str:
    """A server or image given as an id or as a URL ending in one."""
    return value.rstrip("/").rsplit("/", 1)[-1]


def _filtered(request: Request, context: RequestContext) -> Any:
    """Nova's image list filters: name, status, changes-since, server, type, minRam, minDisk."""
    params = request.query_params
    queryset = Image.objects.listed_for(context).filter(os_hidden=False)
    if name := params.get("name"):
        queryset = queryset.filter(name=name)
    if status := params.get("status"):
        glance = [k for k, v in NOVA_STATUS.items() if v == status.upper()]
        queryset = queryset.filter(status__in=glance)
    if since := params.get("changes-since"):
        moment = serializers.DateTimeField().to_internal_value(since)
        queryset = queryset.filter(updated_at__gte=moment)
    if server := params.get("server"):
        queryset = queryset.filter(properties__instance_uuid=_last_segment(server))
    if kind := params.get("type"):
        queryset = queryset.filter(properties__image_type=kind)
    for param, column in (("minRam", "min_ram"), ("minDisk", "min_disk")):
        if (raw := params.get(param)) is not None:
            if not raw.isdigit():
                raise InvalidInput(f"{param} must be a non-negative integer.")
            queryset = queryset.filter(**{f"{column}__gte": int(raw)})
    return queryset.order_by(*ORDER)


def _page(request: Request, queryset: Any) -> tuple[list[Image], int]:
    if marker := request.query_params.get("marker"):
        found = _visible(request.auth, marker, missing=f"marker [{marker}] not found")
        queryset = queryset.filter(
            Q(created_at__lt=found.created_at) | Q(created_at=found.created_at, id__lt=found.pk)
        )
    limit = parse_limit(request)
    return list(queryset[:limit]), limit


def _visible(context: RequestContext, image_id: str, *, missing: str | None = None) -> Image:
    try:
        image = Image.objects.visible_to(context).filter(pk=uuid.UUID(image_id)).first()
    except ValueError:
        image = None
    if image is None:
        if missing is not None:
            raise InvalidInput(missing)
        raise NotFound("Image not found.")
    return image


class _MetadataBody(StrictSerializer):
    metadata = serializers.DictField(child=serializers.CharField(max_length=255, allow_blank=True))


class _MetaBody(StrictSerializer):
    meta = serializers.DictField(child=serializers.CharField(max_length=255, allow_blank=True))


class _ComputeImageView(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.version >= REMOVED_IN:
            raise NotFound("The image proxy API was removed in microversion 2.36.")

    def _owned(self, request: Request, image_id: str, *, action: str = "modify") -> Image:
        """The image, if the caller may change it: 404 if it cannot see it, 403 if not its."""
        image = _visible(request.auth, image_id)
        if not image.is_owned_by(request.auth):
            raise ImageNotOwned(action=action, image_id=image.pk)
        return image


class ComputeImageViewSet(_ComputeImageView):
    """``/images``, ``/images/detail``, ``/images/{id}`` (GET, DELETE)."""

    policy_actions = {
        "list": "image:get_images",
        "list_detail": "image:get_images",
        "retrieve": "image:get_image",
        "destroy": "image:delete_image",
        "delete_all": "image:delete_image",
    }

    def _list(self, request: Request, *, detail: bool) -> Response:
        images, limit = _page(request, _filtered(request, request.auth))
        view = image_detail if detail else image_summary
        suffix = "/detail" if detail else ""
        body: dict[str, Any] = {"images": [view(image) for image in images]}
        body.update(
            next_links(
                request,
                images,
                limit,
                base_url=f"{settings.PUBLIC_URL}/compute/v2.1/images{suffix}",
                marker_of=lambda image: image.pk,
                name="images",
            )
        )
        return Response(body)

    def list(self, request: Request) -> Response:
        return self._list(request, detail=False)

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        return self._list(request, detail=True)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"image": image_detail(_visible(request.auth, pk))})

    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_image(image=self._owned(request, pk, action="delete"))
        return Response(status=204)

    def delete_all(self, request: Request) -> Response:
        """``DELETE /images/`` (a blank id) names no image: 404, as Nova answers."""
        raise NotFound("Image not found.")


class ComputeImageMetadataViewSet(_ComputeImageView):
    """``/images/{id}/metadata[/{key}]``: an image's properties, as Nova's metadata.

    Properties only: base attributes (visibility, owner, min_ram, status, ...) are refused
    (400) by `services.update_image_properties`, as Nova's proxy never sets them either.
    """

    policy_actions = {
        "list": "image:get_image",
        "retrieve": "image:get_image",
        "create": "image:modify_image",
        "replace_all": "image:modify_image",
        "update": "image:modify_image",
        "destroy": "image:modify_image",
    }

    def _metadata(self, request: Request) -> dict[str, str]:
        serializer = _MetadataBody(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data["metadata"])

    def list(self, request: Request, image_id: str) -> Response:
        return Response({"metadata": _visible(request.auth, image_id).properties})

    def create(self, request: Request, image_id: str) -> Response:
        """Merge the given items into the image's metadata."""
        image = self._owned(request, image_id)
        image = services.update_image_properties(image=image, set_items=self._metadata(request))
        return Response({"metadata": image.properties})

    def replace_all(self, request: Request, image_id: str) -> Response:
        """Make the given items the image's whole metadata."""
        image = self._owned(request, image_id)
        metadata = self._metadata(request)
        image = services.update_image_properties(
            image=image,
            set_items=metadata,
            remove=[k for k in image.properties if k not in metadata],
        )
        return Response({"metadata": image.properties})

    def retrieve(self, request: Request, image_id: str, pk: str) -> Response:
        properties = _visible(request.auth, image_id).properties
        if pk not in properties:
            raise NotFound("Image not found.")
        return Response({"meta": {pk: properties[pk]}})

    def update(self, request: Request, image_id: str, pk: str) -> Response:
        serializer = _MetaBody(data=request.data)
        serializer.is_valid(raise_exception=True)
        meta = serializer.validated_data["meta"]
        if pk not in meta:
            raise InvalidInput("Request body and URI mismatch")
        if len(meta) > 1:
            raise InvalidInput("Request body contains too many items")
        image = self._owned(request, image_id)
        services.update_image_properties(image=image, set_items={pk: meta[pk]})
        return Response({"meta": {pk: meta[pk]}})

    def destroy(self, request: Request, image_id: str, pk: str) -> Response:
        image = self._owned(request, image_id)
        if services.is_image_attribute(pk):
            raise ImageMetadataNotProperty(key=pk)
        if pk not in image.properties:
            raise NotFound(f"Image {image_id} has no metadata item {pk}.")
        services.update_image_properties(image=image, set_items={}, remove=[pk])
        return Response(status=204)

"""Glance v2 compatible image API under ``/image/``.

Views parse, authorise and call one service. Which images a caller sees is the queryset's
business (`Image.objects.visible_to`: another project's private image is a 404); who may
change one is ownership (403 for a visible image of another project), as Glance.
Errors leave in Keystone's shape (``error_style = "keystone"``), which Glance's clients read.
"""

import base64
import binascii
import io
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpResponseBase
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.identity.policy import PolicyPermission, authorize
from apps.images import services
from apps.images.api import paging
from apps.images.api.parsers import (
    PATCH_MEDIA_TYPES,
    ImagePatchV20Parser,
    ImagePatchV21Parser,
)
from apps.images.api.serializers import (
    ImageAttributesSerializer,
    image_body,
    images_body,
    parse_image_patch,
)
from apps.images.choices import ImageStatus, Visibility
from apps.images.exceptions import (
    ImageInvalid,
    ImageNotFound,
    ImageNotOwned,
    LengthRequired,
)
from apps.images.filtersets import ImageFilterSet
from apps.images.models import Image
from apps.images.store import ImageDataNotFound, get_store
from computecloud.api.errors import error_response
from computecloud.api.parsers import StrictJSONParser
from computecloud.exceptions import Forbidden

# Glance's version history; clients pick the highest CURRENT/SUPPORTED v2 entry.
VERSIONS = (
    ("v2.7", "CURRENT"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
)
DOWNLOAD_BLOCK_SIZE = 1024 * 1024


class AnyAcceptNegotiation(BaseContentNegotiation):
    """Glance ignores Accept (clients send ``application/octet-stream`` or nothing to the data
    endpoints): answer with the first renderer instead of a 406. A browser asking for HTML
    gets the browsable API's page where the view offers one."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        content_type = request.content_type.split(";")[0].strip()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        offered = list(renderers)
        if "text/html" in request.headers.get("Accept", ""):
            for renderer in offered:
                if renderer.media_type == "text/html":
                    return renderer, renderer.media_type
        return offered[0], offered[0].media_type


class ImageAPIMixin:
    error_style = "keystone"
    content_negotiation_class: type[BaseContentNegotiation] = AnyAcceptNegotiation


def _context(request: Request) -> RequestContext:
    context = request.auth
    assert isinstance(context, RequestContext)  # PolicyPermission let the request in
    return context


def _versions_body() -> dict[str, Any]:
    href = f"{settings.PUBLIC_URL}/image/v2/"
    return {
        "versions": [
            {"id": version, "status": state, "links": [{"rel": "self", "href": href}]}
            for version, state in VERSIONS
        ]
    }


class ImageVersionsView(ImageAPIMixin, APIView):
    """``GET /image/``: the versions document, without a token. Glance answers the root with
    300 Multiple Choices and explicit version paths with 200; keystoneauth takes both."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    status_code = status.HTTP_300_MULTIPLE_CHOICES

    def get(self, request: Request) -> Response:
        return Response(_versions_body(), status=self.status_code)


class ImageSchemaView(ImageAPIMixin, APIView):
    """``GET /image/v2/schemas/image(s)``: a minimal JSON schema (static, no token)."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    collection = False

    def get(self, request: Request) -> Response:
        image_schema = {
            "name": "image",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": ["null", "string"], "maxLength": 255},
                "status": {"type": "string", "readOnly": True, "enum": ImageStatus.values},
                "visibility": {"type": "string", "enum": Visibility.values},
                "protected": {"type": "boolean"},
                "os_hidden": {"type": "boolean"},
                "checksum": {"type": ["null", "string"], "readOnly": True},
                "os_hash_algo": {"type": ["null", "string"], "readOnly": True},
                "os_hash_value": {"type": ["null", "string"], "readOnly": True},
                "owner": {"type": ["null", "string"]},
                "size": {"type": ["null", "integer"], "readOnly": True},
                "virtual_size": {"type": ["null", "integer"], "readOnly": True},
                "container_format": {"type": ["null", "string"]},
                "disk_format": {"type": ["null", "string"]},
                "created_at": {"type": "string", "readOnly": True},
                "updated_at": {"type": "string", "readOnly": True},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
                "min_ram": {"type": "integer"},
                "min_disk": {"type": "integer"},
                "self": {"type": "string", "readOnly": True},
                "file": {"type": "string", "readOnly": True},
                "schema": {"type": "string", "readOnly": True},
            },
            "additionalProperties": {"type": "string"},
            "links": [
                {"rel": "self", "href": "{self}"},
                {"rel": "enclosure", "href": "{file}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        }
        if not self.collection:
            return Response(image_schema)
        return Response(
            {
                "name": "images",
                "properties": {
                    "images": {"type": "array", "items": image_schema},
                    "schema": {"type": "string"},
                    "first": {"type": "string"},
                    "next": {"type": "string"},
                },
                "links": [
                    {"rel": "first", "href": "{first}"},
                    {"rel": "next", "href": "{next}"},
                    {"rel": "describedby", "href": "{schema}"},
                ],
            }
        )


class ImportInfoView(ImageAPIMixin, APIView):
    """``GET /image/v2/info/import``: no interoperable import methods are enabled."""

    policy_actions = {"get": "image:get_images"}

    def get(self, request: Request) -> Response:
        return Response(
            {
                "import-methods": {
                    "description": "Import methods available.",
                    "type": "array",
                    "value": [],
                }
            }
        )


@extend_schema_view(create=extend_schema(request=ImageAttributesSerializer))
class ImageViewSet(ImageAPIMixin, ViewSet):
    """``/image/v2/images[/{id}]``: list, show, create, JSON-patch update, delete."""

    lookup_field = "image_id"
    lookup_value_regex = "[^/]+"
    parser_classes = [StrictJSONParser, ImagePatchV21Parser, ImagePatchV20Parser]
    policy_actions = {
        "list": "image:get_images",
        "retrieve": "image:get_image",
        "create": "image:add_image",
        "partial_update": "image:modify_image",
        "destroy": "image:delete_image",
        # Methods Glance does not serve on these paths pass policy to get their 405.
        "put": "image:modify_image",
        "delete": "image:delete_image",
    }

    def list(self, request: Request) -> Response:
        context = _context(request)
        params = request.query_params
        filterset = ImageFilterSet(
            params, queryset=Image.objects.visible_to(context), request=request
        )
        if not filterset.is_valid():
            raise ImageInvalid(reason=_form_errors(filterset.errors))
        images, more = paging.page(filterset.qs, params, context=context)
        body: dict[str, Any] = {
            "images": images_body(images),
            "first": paging.list_link(params),
            "schema": "/v2/schemas/images",
        }
        if more:
            body["next"] = paging.list_link(params, marker=str(images[-1].pk))
        return Response(body)

    def retrieve(self, request: Request, image_id: str) -> Response:
        image = services.find_visible_image(context=_context(request), image_id=image_id)
        return Response(image_body(image))

    def create(self, request: Request) -> Response:
        context = _context(request)
        serializer = ImageAttributesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attrs = dict(serializer.validated_data)
        if attrs.get("visibility") == Visibility.PUBLIC:
            authorize(context, "image:publicize_image")
        owner = _owner_project(context, attrs.pop("owner", None))
        image = services.create_image(
            owner=owner,
            image_id=attrs.pop("id", None),
            **attrs,
        )
        response = Response(image_body(image), status=status.HTTP_201_CREATED)
        response["Location"] = f"{settings.PUBLIC_URL}/image/v2/images/{image.pk}"
        return response

    def partial_update(self, request: Request, image_id: str) -> HttpResponseBase:
        context = _context(request)
        media_type = request.content_type.split(";")[0].strip()
        if media_type not in PATCH_MEDIA_TYPES:
            response = error_response(
                self, 415, f"Unsupported media type {media_type!r}: use a JSON patch."
            )
            response["Accept-Patch"] = ", ".join(PATCH_MEDIA_TYPES)
            return response
        image = services.find_visible_image(context=context, image_id=image_id)
        if not image.is_owned_by(context):
            raise ImageNotOwned(action="modify", image_id=image.pk)
        changes = parse_image_patch(request.data, media_type=media_type)
        for change in changes:
            if change.path == "visibility" and change.value == Visibility.PUBLIC:
                authorize(context, "image:publicize_image")
            if change.path == "owner" and change.op != "remove":
                _owner_project(context, change.value)
        image = services.update_image(image=image, changes=changes)
        return Response(image_body(image))

    def destroy(self, request: Request, image_id: str) -> Response:
        context = _context(request)
        image = services.find_visible_image(context=context, image_id=image_id)
        if not image.is_owned_by(context):
            raise ImageNotOwned(action="delete", image_id=image.pk)
        services.delete_image(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignedUrlOrPolicyPermission(PolicyPermission):
    """Image data without a token for a request carrying a valid signature (``?expires=&sig=``
    from `signed_download_url` / `signed_upload_url`); otherwise the usual policy gate."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if "sig" not in request.query_params:
            return super().has_permission(request, view)
        services.check_signed_url(
            image_id=view.kwargs["image_id"],
            purpose="upload" if request.method == "PUT" else "download",
            expires=request.query_params.get("expires"),
            signature=request.query_params.get("sig"),
        )
        view.signed = True
        return True


class ImageFileView(ImageAPIMixin, APIView):
    """``/image/v2/images/{id}/file``: PUT streams data in, GET streams it out."""

    permission_classes = [SignedUrlOrPolicyPermission]
    policy_actions = {
        "get": "image:download_image",
        "head": "image:download_image",
        "put": "image:upload_image",
    }
    signed = False

    def _image(self, request: Request, image_id: str, *, verb: str) -> Image:
        if self.signed:
            image = Image.objects.filter(pk=_uuid_or_404(image_id)).first()
            if image is None:
                raise ImageNotFound(image_id=image_id)
            return image
        context = _context(request)
        image = services.find_visible_image(context=context, image_id=image_id)
        if verb == "upload" and not image.is_owned_by(context):
            raise ImageNotOwned(action="upload data to", image_id=image.pk)
        return image

    def put(self, request: Request, image_id: str) -> Response:
        media_type = request.content_type.split(";")[0].strip()
        if media_type != "application/octet-stream":
            raise UnsupportedMediaType(media_type)
        image = self._image(request, image_id, verb="upload")
        stream, declared_size = _body_stream(request)
        services.upload_image_data(
            image=image,
            stream=stream,
            expected_checksum=_expected_md5(request),
            expected_size=declared_size,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get(self, request: Request, image_id: str) -> HttpResponseBase:
        image = self._image(request, image_id, verb="download")
        if image.status == ImageStatus.DEACTIVATED:
            raise Forbidden(
                message="The requested image has been deactivated. "
                "Image data download is forbidden."
            )
        if image.status != ImageStatus.ACTIVE:
            return Response(status=status.HTTP_204_NO_CONTENT)
        try:
            data = get_store().open(image.pk)
        except ImageDataNotFound:
            return Response(status=status.HTTP_204_NO_CONTENT)
        response = FileResponse(data, content_type="application/octet-stream")
        response.block_size = DOWNLOAD_BLOCK_SIZE
        response["Content-Length"] = str(image.size)
        if image.checksum:
            response["Content-MD5"] = image.checksum
        return response


class ImageImportView(ImageAPIMixin, APIView):
    """``POST /image/v2/images/{id}/import``: no import method is enabled (clients learn that
    from the absent ``OpenStack-image-import-methods`` header and upload with PUT instead)."""

    policy_actions = {"post": "image:upload_image"}

    def post(self, request: Request, image_id: str) -> Response:
        services.find_visible_image(context=_context(request), image_id=image_id)
        body = request.data
        method = body.get("method") if isinstance(body, dict) else None
        if not isinstance(method, dict):
            raise ImageInvalid(reason="Import request requires a 'method' field.")
        name = method.get("name")
        if not name:
            raise ImageInvalid(reason="Import request requires a 'name' field.")
        raise ImageInvalid(reason=f"Unknown import method name '{name}'.")


class ImageTasksView(ImageAPIMixin, APIView):
    """``GET /image/v2/images/{id}/tasks`` (Glance 2.12): the image's import tasks. No import
    method is enabled, so there are none; clients that wait for an image's tasks (Tempest
    does, after a snapshot) find nothing pending."""

    policy_actions = {"get": "image:get_image"}

    def get(self, request: Request, image_id: str) -> Response:
        services.find_visible_image(context=_context(request), image_id=image_id)
        return Response({"tasks": []})


# --- helpers -------------------------------------------------------------------------------


def _owner_project(context: RequestContext, owner_id: str | None) -> Project:
    """The project that will own the image: the caller's, or another one for an admin."""
    if owner_id is None or owner_id == context.project_id:
        owner_id = context.project_id
    elif not context.is_admin:
        raise Forbidden(message=f"You are not permitted to create images owned by '{owner_id}'.")
    project = Project.objects.filter(pk=owner_id).first()
    if project is None:
        raise ImageInvalid(reason=f"Owner {owner_id} is not a known project.")
    return project


def _uuid_or_404(image_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(image_id)
    except ValueError:
        raise ImageNotFound(image_id=image_id) from None


def _form_errors(errors: dict[str, Any]) -> str:
    return "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in errors.items())


def _body_stream(request: Request) -> tuple[Any, int | None]:
    """The request body as a stream to read in chunks, and its declared length.

    Content-Length bodies are read through Django's bounded stream; chunked bodies straight
    from the WSGI input when the server has de-chunked and terminated it (gunicorn does)."""
    raw_length = request.META.get("CONTENT_LENGTH")
    if raw_length:
        try:
            length = int(raw_length)
        except ValueError:
            raise ImageInvalid(reason="Invalid Content-Length.") from None
        return (request.stream or io.BytesIO(b"")), length
    # Django's META is the WSGI environ: its input is the de-chunked body.
    if request.META.get("wsgi.input_terminated"):
        declared = request.META.get("HTTP_X_OPENSTACK_IMAGE_SIZE")
        stream = request.META["wsgi.input"]
        return stream, int(declared) if declared and declared.isdigit() else None
    if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", ""):
        return io.BytesIO(b""), 0
    raise LengthRequired()


def _expected_md5(request: Request) -> str | None:
    """The md5 the client vouches for: Content-MD5 (hex as Glance writes it, or RFC 1864
    base64) or v1's X-Image-Meta-Checksum."""
    value = request.headers.get("Content-MD5") or request.headers.get("X-Image-Meta-Checksum")
    if not value:
        return None
    value = value.strip()
    if len(value) == 32:
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise ImageInvalid(reason="Content-MD5 is neither hex nor base64.") from None

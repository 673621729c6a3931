"""Images: the project's list as Glance gives it, upload with progress, delete.

Upload is two requests, as a Glance client makes them: the form creates the image record
(`create_image`, validated by the API's attribute serializer; "public" needs the API's
publicize policy), then static/dashboard/upload.js sends the file as the raw request body to
`image_data`, which streams it into `upload_image_data` exactly as ``PUT /v2/images/{id}/file``
does: read in chunks from the request, never held whole, capped, checked, then active.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import can, page, show
from apps.dashboard.fielderrors import FieldErrors, field_errors
from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.identity.policy import authorize
from apps.images import services
from apps.images.api.serializers import ImageAttributesSerializer
from apps.images.choices import ContainerFormat, DiskFormat, Visibility
from apps.images.exceptions import ImageInvalid, ImageNotOwned, LengthRequired
from apps.images.models import Image
from computecloud.exceptions import ComputecloudError

LIST = "image:get_images"
CREATE = "image:add_image"
UPLOAD = "image:upload_image"
DELETE = "image:delete_image"
PUBLICIZE = "image:publicize_image"

FORM_FIELDS = ("name", "disk_format", "container_format", "visibility")


def visibilities(context: RequestContext) -> list[str]:
    """What the caller may create: "public" only with the API's publicize policy."""
    return [v for v in Visibility.values if v != Visibility.PUBLIC or can(context, PUBLICIZE)]


def _list_page(
    request: HttpRequest,
    context: RequestContext,
    *,
    form: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    authorize(context, LIST)
    # Glance's default list: visible images, others' community and hidden ones left out.
    images = Image.objects.visible_to(context).listed_for(context).filter(os_hidden=False)
    can_delete = can(context, DELETE)
    rows = [
        {"image": image, "can_delete": can_delete and image.is_owned_by(context)}
        for image in images.order_by("-created_at", "-id")
    ]
    return show(
        request,
        context,
        "dashboard/images/list.html",
        {
            "title": "Images",
            "rows": rows,
            "can_create": can(context, CREATE) and can(context, UPLOAD),
            "form": form
            or {"disk_format": DiskFormat.QCOW2, "container_format": ContainerFormat.BARE},
            "errors": errors or {},
            "disk_formats": DiskFormat.values,
            "container_formats": ContainerFormat.values,
            "visibilities": visibilities(context),
            "default_visibility": Visibility.PRIVATE,
        },
        status=status,
    )


@require_GET
@page
def image_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return _list_page(request, context)


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@page
def image_create(request: HttpRequest, context: RequestContext) -> HttpResponse:
    """Create the record (queued); upload.js asks for JSON and then sends the data."""
    authorize(context, CREATE)
    form = {name: request.POST.get(name, "") for name in FORM_FIELDS}
    body = {key: value for key, value in form.items() if value != ""}
    serializer = ImageAttributesSerializer(data=body)
    errors: FieldErrors = {}
    if not serializer.is_valid():
        errors = field_errors(serializer.errors)
    elif serializer.validated_data.get("visibility") == Visibility.PUBLIC:
        authorize(context, PUBLICIZE)  # the API's 403
    if errors:
        if wants_json(request):
            return JsonResponse({"errors": errors}, status=400)
        return _list_page(request, context, form=form, errors=errors, status=400)
    owner = Project.objects.get(pk=context.project_id)
    image = services.create_image(owner=owner, **serializer.validated_data)
    if wants_json(request):
        return JsonResponse(
            {
                "id": str(image.pk),
                "upload_url": reverse("dashboard:image-data", args=[image.pk]),
            },
            status=201,
        )
    messages.info(request, f"Image {image.name or image.pk} created, queued for its data.")
    return redirect("dashboard:images")


def _owned_image(context: RequestContext, image_id: str, verb: str) -> Image:
    """An image the caller may see (else 404, as unknown) and change (else the API's 403)."""
    image = services.find_visible_image(context=context, image_id=image_id)
    if not image.is_owned_by(context):
        raise ImageNotOwned(action=verb, image_id=image.pk)
    return image


def _declared_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH")
    if not raw:
        raise LengthRequired()
    try:
        length = int(raw)
    except ValueError:
        raise ImageInvalid(reason="Invalid Content-Length.") from None
    if length < 0:
        raise ImageInvalid(reason="Invalid Content-Length.")
    return length


@require_POST
@page
def image_data(request: HttpRequest, context: RequestContext, image_id: str) -> HttpResponse:
    """The file as the raw body (application/octet-stream), streamed into the store.

    Answers JSON for upload.js, errors too: {"error": message} with the service's status."""
    try:
        authorize(context, UPLOAD)
        image = _owned_image(context, image_id, "upload data to")
        media_type = request.content_type or ""
        if media_type != "application/octet-stream":
            return JsonResponse(
                {"error": f"Unsupported media type {media_type!r}: send the file's bytes."},
                status=415,
            )
        length = _declared_length(request)
        # HttpRequest reads its body as a stream bounded by Content-Length; the service reads
        # it in the store's chunks (the CSRF check never touches an octet-stream body).
        image = services.upload_image_data(image=image, stream=request, expected_size=length)
    except ComputecloudError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.code)
    return JsonResponse(
        {
            "id": str(image.pk),
            "status": image.status,
            "size": image.size,
            "checksum": image.checksum,
        }
    )


@require_POST
@page
def image_delete(request: HttpRequest, context: RequestContext, image_id: str) -> HttpResponse:
    authorize(context, DELETE)
    image = _owned_image(context, image_id, "delete")
    services.delete_image(image=image)
    messages.success(request, f"Image {image.name or image.pk} deleted.")
    return redirect("dashboard:images")

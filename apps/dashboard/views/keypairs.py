"""Key pairs: the user's own, import, generate (the private key downloaded once) and delete.

Key pairs are the user's, not the project's, as in the API: every request acts on the signed-in
user's key pairs (another user's name is simply not found), under the API's policy actions
with the user as the target. Bodies are validated by the API's own create serializer, so a
page refuses what the API refuses, in its words: import at the newest microversion, generate
at 2.91, the last one at which the API generates.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import can, page, show
from apps.dashboard.fielderrors import FieldErrors, field_errors
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.keypairs import services
from apps.keypairs.api.serializers import create_serializer
from apps.keypairs.crypto import InvalidKeypair
from apps.keypairs.exceptions import KeyPairExists
from apps.keypairs.models import KeyPair, KeyPairType
from computecloud.api.microversions import MAX_VERSION, APIVersion
from computecloud.exceptions import QuotaExceeded

LIST = "os_compute_api:os-keypairs:index"
CREATE = "os_compute_api:os-keypairs:create"
DELETE = "os_compute_api:os-keypairs:delete"

# The API generates key pairs only before 2.92 (from then on a public key is required).
GENERATE_VERSION = APIVersion(2, 91)


# What the service refuses that the page shows on the form rather than as an error page.
REFUSALS = (InvalidKeypair, KeyPairExists, QuotaExceeded)


def at_field(exc: Exception) -> FieldErrors:
    """The refusal's message next to the input it is about."""
    field = {InvalidKeypair: "public_key", KeyPairExists: "name"}.get(type(exc), "general")
    return {field: [str(exc)]}


def _own(context: RequestContext) -> dict[str, Any]:
    return {"user_id": context.user_id}


def _list_page(
    request: HttpRequest,
    context: RequestContext,
    *,
    form: str = "",
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    authorize(context, LIST, _own(context))
    keypairs = KeyPair.objects.filter(user_id=context.user_id).order_by("name", "id")
    return show(
        request,
        context,
        "dashboard/keypairs/list.html",
        {
            "title": "Key pairs",
            "keypairs": keypairs,
            "can_create": can(context, CREATE, _own(context)),
            "can_delete": can(context, DELETE, _own(context)),
            "form": form,  # which form the errors belong to: "import" or "generate"
            "values": values or {},
            "errors": errors or {},
        },
        status=status,
    )


@require_GET
@page
def keypair_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return _list_page(request, context)


def _validated(version: APIVersion, body: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    serializer = create_serializer(version, {"keypair": body})
    if not serializer.is_valid():
        return {}, field_errors(serializer.errors)
    return serializer.validated_data["keypair"], {}


@require_POST
@page
def keypair_import(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, CREATE, _own(context))
    values = {name: request.POST.get(name, "") for name in ("name", "public_key", "type")}
    body = {key: value for key, value in values.items() if value != ""}
    data, errors = _validated(MAX_VERSION, body)
    if errors:
        return _list_page(request, context, form="import", values=values, errors=errors, status=400)
    try:
        keypair = services.import_key_pair(
            user_id=context.user_id,
            project_id=context.project_id,
            name=data["name"],
            public_key=data["public_key"],
            key_type=data.get("type", KeyPairType.SSH),
        )
    except REFUSALS as exc:
        return _list_page(
            request, context, form="import", values=values, errors=at_field(exc), status=exc.code
        )
    messages.success(request, f"Key pair {keypair.name} imported.")
    return redirect("dashboard:keypairs")


@require_POST
@page
def keypair_generate(request: HttpRequest, context: RequestContext) -> HttpResponse:
    """A new key pair; the answer is its private key as a .pem download, kept nowhere."""
    authorize(context, CREATE, _own(context))
    values = {"name": request.POST.get("name", "")}
    data, errors = _validated(GENERATE_VERSION, values)
    if errors:
        return _list_page(
            request, context, form="generate", values=values, errors=errors, status=400
        )
    try:
        created = services.create_key_pair(
            user_id=context.user_id, project_id=context.project_id, name=data["name"]
        )
    except REFUSALS as exc:
        return _list_page(
            request, context, form="generate", values=values, errors=at_field(exc), status=exc.code
        )
    response = HttpResponse(created.private_key, content_type="application/x-pem-file")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{created.keypair.name}.pem"
    )
    return response


@require_POST
@page
def keypair_delete(request: HttpRequest, context: RequestContext, name: str) -> HttpResponse:
    authorize(context, DELETE, _own(context))
    services.delete_key_pair(user_id=context.user_id, name=name)
    messages.success(request, f"Key pair {name} deleted.")
    return redirect("dashboard:keypairs")

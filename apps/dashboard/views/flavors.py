"""Flavors: the list the API gives the caller, and the admins' create and delete.

The list is the API's (`visible_flavors`: public flavors and the project's private ones for
a member, every flavor for an admin); create is validated by the API's own body serializer
and made by `create_flavor`, delete by `delete_flavor` on a flavor the caller may read; each
under the policy action the API names.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import can, page, show
from apps.dashboard.fielderrors import FieldErrors, field_errors
from apps.flavors import services
from apps.flavors.api.serializers import FlavorCreateBody
from apps.flavors.api.views import create_from_body, visible_flavors
from apps.flavors.exceptions import FlavorExists
from apps.identity.context import RequestContext
from apps.identity.policy import authorize

LIST = "os_compute_api:flavors:index"
CREATE = "os_compute_api:os-flavor-manage:create"
DELETE = "os_compute_api:os-flavor-manage:delete"

# The create form's inputs, and the API body's names for them.
FORM_TO_API = {
    "name": "name",
    "flavorid": "id",
    "vcpus": "vcpus",
    "ram": "ram",
    "disk": "disk",
    "ephemeral": "OS-FLV-EXT-DATA:ephemeral",
    "swap": "swap",
    "is_public": "os-flavor-access:is_public",
}
API_TO_FORM = {api: form for form, api in FORM_TO_API.items()}


def _list_page(
    request: HttpRequest,
    context: RequestContext,
    *,
    form: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    authorize(context, LIST)
    # An admin sees every flavor (the API's ?is_public=none), others what the API lists.
    flavors = visible_flavors(context, "none" if context.is_admin else None).order_by(
        "vcpus", "memory_mb", "name"
    )
    return show(
        request,
        context,
        "dashboard/flavors/list.html",
        {
            "title": "Flavors",
            "flavors": flavors,
            "can_create": can(context, CREATE),
            "can_delete": can(context, DELETE),
            "form": form or {"is_public": "on", "ephemeral": "0", "swap": "0", "disk": "1"},
            "errors": errors or {},
        },
        status=status,
    )


@require_GET
@page
def flavor_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return _list_page(request, context)


def _api_body(form: dict[str, Any]) -> dict[str, Any]:
    """The form as the API's create body: blanks left out (the API's defaults apply)."""
    body: dict[str, Any] = {
        api: form[name]
        for name, api in FORM_TO_API.items()
        if name != "is_public" and form.get(name, "") != ""
    }
    body["os-flavor-access:is_public"] = form.get("is_public") == "on"
    return body


@require_POST
@page
def flavor_create(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, CREATE)
    form = {name: request.POST.get(name, "").strip() for name in FORM_TO_API}
    serializer = FlavorCreateBody(data=_api_body(form))
    if not serializer.is_valid():
        errors = field_errors(serializer.errors, aliases=API_TO_FORM)
        return _list_page(request, context, form=form, errors=errors, status=400)
    data = serializer.validated_data
    try:
        flavor = create_from_body(data)
    except FlavorExists as exc:
        field = "flavorid" if exc.kwargs.get("what") == "ID" else "name"
        return _list_page(request, context, form=form, errors={field: [str(exc)]}, status=exc.code)
    messages.success(request, f"Flavor {flavor.name} created.")
    return redirect("dashboard:flavors")


@require_POST
@page
def flavor_delete(request: HttpRequest, context: RequestContext, flavor_id: str) -> HttpResponse:
    authorize(context, DELETE)
    flavor = services.get_flavor(context, flavor_id)
    services.delete_flavor(flavor=flavor)
    messages.success(request, f"Flavor {flavor.name} deleted.")
    return redirect("dashboard:flavors")

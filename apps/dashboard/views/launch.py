"""The launch form: a server (or several) from a flavor, an image and the rest of what the
API's create takes.

The form has no rule of its own. What the user typed becomes the body the API's create
receives (``{"server": {...}, "OS-SCH-HNT:scheduler_hints": {...}}``), checked by the API's
own `ServerCreateSerializer`, turned into the service's request by the API's
`create_request`, and created by `create.create_servers`, as POST /servers does at the
newest microversion. Their refusals come back in the API's words: a serializer's at the field
it names, a service's at the field its message is about (`FIELD_WORDS`), a quota's and any
other above the form. Whatever was typed is shown again.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from apps.dashboard.access import page, show
from apps.flavors.services import readable_flavors
from apps.hosts.choices import DEFAULT_AVAILABILITY_ZONE
from apps.hosts.services import zones_by_host
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.images.choices import ImageStatus
from apps.images.models import Image
from apps.keypairs.models import KeyPair
from apps.networks import services as networks
from apps.servers import create
from apps.servers.api import serializers as api_serializers
from apps.servers.api.views import create_request
from apps.servers.groups import visible_server_groups
from computecloud.api.microversions import MAX_VERSION
from computecloud.exceptions import ComputecloudError, QuotaExceeded

CREATE_POLICY = "os_compute_api:servers:create"

# The body's keys → the form's fields, for the serializer's errors.
BODY_FIELDS = {
    "name": "name",
    "flavorRef": "flavor",
    "imageRef": "image",
    "key_name": "key_name",
    "user_data": "user_data",
    "min_count": "min_count",
    "max_count": "max_count",
    "availability_zone": "availability_zone",
    "networks": "networks",
    "OS-SCH-HNT:scheduler_hints": "server_group",
}
# A service refusal is about the field its message names (the services raise InvalidInput,
# Conflict or NotFound with Nova's messages and no field): first match wins.
FIELD_WORDS = [
    (re.compile(r"flavor", re.I), "flavor"),
    (re.compile(r"image", re.I), "image"),
    (re.compile(r"key_?name|key pair", re.I), "key_name"),
    (re.compile(r"availability zone|forced_host|requested_destination", re.I), "availability_zone"),
    (re.compile(r"group", re.I), "server_group"),
    (re.compile(r"network|port|fixed.?ip", re.I), "networks"),
    (re.compile(r"min_count|max_count", re.I), "max_count"),
]


class LaunchForm(forms.Form):
    """Holds and shows what was typed; validates nothing (the API's rules do)."""

    name = forms.CharField(required=False)
    flavor = forms.CharField(required=False, widget=forms.Select)
    image = forms.CharField(required=False, widget=forms.Select)
    key_name = forms.CharField(required=False, label="Key pair", widget=forms.Select)
    user_data = forms.CharField(
        required=False,
        label="User data",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="Given to the guest as is (cloud-init reads it); up to 48 KiB.",
    )
    min_count = forms.CharField(
        required=False, label="At least", initial="1", widget=forms.NumberInput
    )
    max_count = forms.CharField(
        required=False, label="At most", initial="1", widget=forms.NumberInput
    )
    availability_zone = forms.CharField(
        required=False, label="Availability zone", widget=forms.Select
    )
    server_group = forms.CharField(required=False, label="Server group", widget=forms.Select)
    networks = forms.Field(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None chosen: automatic."
    )

    def __init__(self, *args: Any, choices: dict[str, list[tuple[str, str]]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, options in choices.items():
            self.fields[name].widget.choices = options
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if isinstance(field.widget, forms.CheckboxSelectMultiple):
                css = "form-check-input"
            field.widget.attrs.setdefault("class", css)
        for name in ("name", "flavor", "image"):
            self.fields[name].widget.attrs["required"] = True
        self.form_errors: list[str] = []

    def mark(self, field: str, message: str) -> None:
        """An error next to `field`: the field shown as is-invalid, described by its error."""
        self.errors.setdefault(field, self.error_class()).append(message)
        widget = self.fields[field].widget
        widget.attrs["aria-describedby"] = f"{field}-error"
        if not isinstance(widget, forms.CheckboxSelectMultiple):
            widget.attrs["class"] += " is-invalid"
            widget.attrs["aria-invalid"] = "true"


def _choices(context: RequestContext) -> dict[str, list[tuple[str, str]]]:
    """What the selects offer: what the caller may use, as the API would find it."""
    flavors = readable_flavors(context).filter(disabled=False).order_by("memory_mb", "flavorid")
    images = (
        Image.objects.listed_for(context)
        .filter(status=ImageStatus.ACTIVE)
        .order_by("name", "id")
        .values_list("id", "name")
    )
    keys = KeyPair.objects.filter(user_id=context.user_id).order_by("name")
    zones = sorted({DEFAULT_AVAILABILITY_ZONE, *zones_by_host().values()})
    groups = visible_server_groups(context).values_list("uuid", "name")
    nets = (
        networks.project_networks(project_id=context.project_id, is_admin=context.is_admin)
        if context.project_id
        else []
    )
    return {
        "flavor": [("", "Choose a flavor")]
        + [
            (f.flavorid, f"{f.name} ({f.vcpus} vCPU, {f.memory_mb} MiB, {f.root_gb} GiB)")
            for f in flavors
        ],
        "image": [("", "Choose an image")] + [(str(i), name or str(i)) for i, name in images],
        "key_name": [("", "None")] + [(k.name, k.name) for k in keys],
        "availability_zone": [("", "Any")] + [(z, z) for z in zones],
        "server_group": [("", "None")] + [(str(u), name) for u, name in groups],
        "networks": [(str(n.pk), n.name or str(n.pk)) for n in nets],
    }


def request_body(data: Any) -> dict[str, Any]:
    """The API's create body for the form's `data` (a QueryDict): what POST /servers would
    receive had the user typed it there. Empty optional fields are left out, as a client
    leaves them out; user data is sent base64-encoded, as the API takes it."""
    server: dict[str, Any] = {
        "name": data.get("name", ""),
        "flavorRef": data.get("flavor", ""),
        "imageRef": data.get("image", ""),
        "min_count": data.get("min_count") or "1",
        "max_count": data.get("max_count") or data.get("min_count") or "1",
        "networks": [{"uuid": n} for n in data.getlist("networks")] or "auto",
    }
    for field, key in (("key_name", "key_name"), ("availability_zone", "availability_zone")):
        if data.get(field):
            server[key] = data[field]
    if data.get("user_data"):
        server["user_data"] = base64.b64encode(data["user_data"].encode()).decode()
    body: dict[str, Any] = {"server": server}
    if data.get("server_group"):
        body["OS-SCH-HNT:scheduler_hints"] = {"group": data["server_group"]}
    return body


def _show_serializer_errors(form: LaunchForm, errors: Any) -> None:
    for key, value in errors.items():
        if key == "server" and isinstance(value, dict):
            _show_serializer_errors(form, value)
            continue
        field = BODY_FIELDS.get(key)
        for message in _messages(value):
            if field:
                form.mark(field, message)
            else:
                form.form_errors.append(message)


def _messages(value: Any) -> list[str]:
    """The texts of a DRF error structure (lists, and dicts of nested fields)."""
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _show_service_error(form: LaunchForm, exc: ComputecloudError) -> None:
    message = str(exc)
    if not isinstance(exc, QuotaExceeded):
        for pattern, field in FIELD_WORDS:
            if pattern.search(message):
                form.mark(field, message)
                return
    form.form_errors.append(message)


def _launch(request: HttpRequest, context: RequestContext, form: LaunchForm) -> HttpResponse | None:
    """Create what the form asks; None when refused (the form then carries why)."""
    serializer = api_serializers.ServerCreateSerializer(data=request_body(request.POST))
    if not serializer.is_valid():
        _show_serializer_errors(form, serializer.errors)
        return None
    try:
        servers, _ = create.create_servers(
            context=context,
            request=create_request(serializer.validated_data, MAX_VERSION),
            request_id=request.request_id,  # type: ignore[attr-defined]
        )
    except ComputecloudError as exc:
        _show_service_error(form, exc)
        # An error at a field is the user's to mend (400); above the form, the service's
        # status (an exceeded quota is the API's 403).
        if form.form_errors:
            form.status = exc.code  # type: ignore[attr-defined]
        return None
    if len(servers) == 1:
        messages.success(request, f"Server {servers[0].name} is being built.")
        return redirect("dashboard:server", server_id=servers[0].uuid)
    messages.success(request, f"{len(servers)} servers are being built.")
    return redirect("dashboard:servers")


@require_http_methods(["GET", "POST"])
@page
def launch(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, CREATE_POLICY)
    choices = _choices(context)
    if request.method == "POST":
        form = LaunchForm(request.POST, choices=choices)
        done = _launch(request, context, form)
        if done is not None:
            return done
        status = getattr(form, "status", 400)
    else:
        form = LaunchForm(choices=choices)
        status = 200
    return show(
        request,
        context,
        "dashboard/servers/launch.html",
        {"title": "Launch a server", "form": form, "has_networks": bool(choices["networks"])},
        status=status,
    )

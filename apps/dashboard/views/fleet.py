"""The fleet, for admins: hypervisors with their usage, compute services, host aggregates.

Each page is the dashboard's face of an admin API and is refused by the same policy actions
(os-hypervisors, os-services, os-aggregates: admin only). The figures come from the functions
those endpoints use (`hypervisor_view`, `service_view`, `hypervisor_statistics` with
placement's usage; placement's `inventories_by_host` for the capacity its claims count), and
every change goes through the hosts services os-services and os-aggregates call. A refused
change is shown where it happened (the field, or the aggregate's card) with the service's
status code.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.dashboard.access import can, page, show
from apps.hosts import services as host_services
from apps.hosts.api.serializers import hypervisor_view, service_view
from apps.hosts.api.usage import hypervisor_statistics
from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Aggregate, ComputeNode, Service
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.placement.capacity import ResourceView
from apps.placement.services import inventories_by_host, usage_by_host
from apps.servers.services import running_vms
from computecloud.exceptions import ComputecloudError, NotFound

# The API's shapes these pages read: the last microversion whose hypervisors carry their
# usage figures, and the one whose services are named by uuid.
HYPERVISOR_VERSION = (2, 87)
SERVICE_VERSION = (2, 53)
HOSTS_PER_PAGE = 24

# (label, resource class, the hypervisor view's total and used keys, unit)
RESOURCES = [
    ("vCPUs", "VCPU", "vcpus", "vcpus_used", ""),
    ("RAM", "MEMORY_MB", "memory_mb", "memory_mb_used", "MB"),
    ("Disk", "DISK_GB", "local_gb", "local_gb_used", "GB"),
]


# --- hypervisors --------------------------------------------------------------------------------
def _resource_rows(
    hypervisor: dict[str, Any], inventory: dict[str, ResourceView]
) -> list[dict[str, Any]]:
    """One row per resource: the node's reported total and used (as os-hypervisors shows
    them), and the capacity placement's claims count (reserved and allocation ratio applied)."""
    rows = []
    for label, rc, total_key, used_key, unit in RESOURCES:
        view = inventory.get(rc)
        capacity = view.capacity if view else 0
        used = hypervisor[used_key]
        rows.append(
            {
                "label": label,
                "unit": unit,
                "total": hypervisor[total_key],
                "used": used,
                "reserved": view.reserved if view else 0,
                "ratio": view.allocation_ratio if view else None,
                "capacity": capacity,
                "percent": round(100 * used / capacity, 1) if capacity else 0,
            }
        )
    return rows


def _chart(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """What static/dashboard/fleet.js draws: used as a share of each capacity."""
    return {
        "labels": [r["label"] for r in resources],
        "percent": [r["percent"] for r in resources],
        "used": [r["used"] for r in resources],
        "capacity": [r["capacity"] for r in resources],
        "units": [r["unit"] for r in resources],
    }


def _fleet_summary(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """The statistics' used against the nodes' reported totals, per resource."""
    rows = []
    for label, _rc, total_key, used_key, unit in RESOURCES:
        total, used = stats[total_key], stats[used_key]
        rows.append(
            {
                "label": label,
                "unit": unit,
                "total": total,
                "used": used,
                "capacity": total,
                "percent": round(100 * used / total, 1) if total else 0,
            }
        )
    return rows


@require_GET
@page
def hypervisor_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, "os_compute_api:os-hypervisors:list-detail")
    show_stats = can(context, "os_compute_api:os-hypervisors:statistics")
    nodes = Paginator(ComputeNode.objects.select_related("service"), HOSTS_PER_PAGE)
    listed = nodes.get_page(request.GET.get("page"))
    usage, vms, inventories = usage_by_host(), running_vms(), inventories_by_host()
    hosts = []
    for number, node in enumerate(listed, start=1):
        api = hypervisor_view(node, HYPERVISOR_VERSION, detail=True, usage=usage, vms=vms)
        resources = _resource_rows(api, inventories.get(node.host, {}))
        hosts.append(
            {
                "api": api,
                "host": node.host,
                "resources": resources,
                "chart": _chart(resources),
                "chart_id": f"hypervisor-chart-{number}",
            }
        )
    summary = None
    if show_stats:
        stats = hypervisor_statistics()
        summary_rows = _fleet_summary(stats)
        summary = {"stats": stats, "resources": summary_rows, "chart": _chart(summary_rows)}
    return show(
        request,
        context,
        "dashboard/fleet/hypervisors.html",
        {"title": "Hypervisors", "hosts": hosts, "page_obj": listed, "summary": summary},
    )


# --- compute services ---------------------------------------------------------------------------
class DisableForm(forms.Form):
    # The column's width, as os-services' serializer allows.
    reason = forms.CharField(
        max_length=255,
        required=False,
        label="Reason",
        help_text="Shown to other operators, and in os-services as disabled_reason.",
    )


# What each change posts to `set_service_status` (disable has its own page, with the reason).
SERVICE_CHANGES: dict[str, dict[str, Any]] = {
    "enable": {"disabled": False},
    "force-down": {"forced_down": True},
    "clear-forced-down": {"forced_down": False},
}


def _service(service_id: str) -> Service:
    """The service named by its uuid, as os-services (2.53) names it; anything else is 404."""
    try:
        found = Service.objects.filter(uuid=uuid.UUID(service_id)).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound(f"Service {service_id} could not be found.")
    return found


@require_GET
@page
def service_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, "os_compute_api:os-services:list")
    zones = host_services.zones_by_host()
    rows = [
        {"service": svc, "api": service_view(svc, SERVICE_VERSION, zones)}
        for svc in Service.objects.all()
    ]
    return show(
        request,
        context,
        "dashboard/fleet/services.html",
        {
            "title": "Compute services",
            "rows": rows,
            "can_update": can(context, "os_compute_api:os-services:update"),
        },
    )


@require_POST
@page
def service_change(
    request: HttpRequest, context: RequestContext, service_id: str, change: str
) -> HttpResponse:
    authorize(context, "os_compute_api:os-services:update")
    status = SERVICE_CHANGES.get(change)
    if status is None:
        raise NotFound(f"No such change of a service: {change}.")
    service = host_services.set_service_status(service=_service(service_id), **status)
    messages.success(request, f"{service.host} ({service.binary}): {change.replace('-', ' ')}.")
    return redirect("dashboard:services")


@require_http_methods(["GET", "POST"])
@page
def service_disable(request: HttpRequest, context: RequestContext, service_id: str) -> HttpResponse:
    authorize(context, "os_compute_api:os-services:update")
    service = _service(service_id)
    form = DisableForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        host_services.set_service_status(
            service=service, disabled=True, reason=form.cleaned_data["reason"]
        )
        messages.success(request, f"{service.host} ({service.binary}) disabled.")
        return redirect("dashboard:services")
    return show(
        request,
        context,
        "dashboard/fleet/service_disable.html",
        {"title": f"Disable {service.host}", "service": service, "form": form},
        status=400 if form.is_bound else 200,
    )


# --- aggregates ---------------------------------------------------------------------------------
class AggregateForm(forms.Form):
    # As os-aggregates' create body: a name, and an optional availability zone.
    name = forms.CharField(max_length=255, label="Name")
    availability_zone = forms.CharField(max_length=255, required=False, label="Availability zone")


class HostForm(forms.Form):
    host = forms.CharField(max_length=255, label="Host")


@dataclass
class AggregatesPage:
    """What the aggregates page shows besides the list: the create form (bound when it was
    refused) and a refusal on one aggregate's card."""

    create_form: AggregateForm = field(default_factory=AggregateForm)
    failed_aggregate: int | None = None
    failure: str = ""
    status: int = 200


def _aggregate(aggregate_id: str) -> Aggregate:
    found = Aggregate.objects.filter(pk=int(aggregate_id) if aggregate_id.isdigit() else -1)
    aggregate = found.first()
    if aggregate is None:
        raise NotFound(f"Aggregate {aggregate_id} could not be found.")
    return aggregate


def _aggregates_page(
    request: HttpRequest, context: RequestContext, state: AggregatesPage
) -> HttpResponse:
    authorize(context, "os_compute_api:os-aggregates:index")
    compute_hosts = list(
        Service.objects.filter(binary=COMPUTE_BINARY).values_list("host", flat=True)
    )
    rows = []
    for aggregate in Aggregate.objects.prefetch_related("hosts"):
        members = sorted(h.host for h in aggregate.hosts.all())
        rows.append(
            {
                "aggregate": aggregate,
                "hosts": members,
                "addable": [h for h in compute_hosts if h not in members],
                "metadata": sorted(aggregate.metadata.items()),
                "failure": state.failure if aggregate.pk == state.failed_aggregate else "",
            }
        )
    return show(
        request,
        context,
        "dashboard/fleet/aggregates.html",
        {
            "title": "Aggregates",
            "rows": rows,
            "form": state.create_form,
            "can_create": can(context, "os_compute_api:os-aggregates:create"),
            "can_delete": can(context, "os_compute_api:os-aggregates:delete"),
            "can_add_host": can(context, "os_compute_api:os-aggregates:add_host"),
            "can_remove_host": can(context, "os_compute_api:os-aggregates:remove_host"),
        },
        status=state.status,
    )


@require_http_methods(["GET", "POST"])
@page
def aggregate_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    if request.method == "GET":
        return _aggregates_page(request, context, AggregatesPage())
    authorize(context, "os_compute_api:os-aggregates:create")
    form = AggregateForm(request.POST)
    if form.is_valid():
        try:
            aggregate = host_services.create_aggregate(
                name=form.cleaned_data["name"],
                availability_zone=form.cleaned_data["availability_zone"] or None,
            )
        except ComputecloudError as exc:  # a name taken: said at the name field
            form.add_error("name", exc.message)
            return _aggregates_page(request, context, AggregatesPage(form, status=exc.code))
        messages.success(request, f"Aggregate {aggregate.name} created.")
        return redirect("dashboard:aggregates")
    return _aggregates_page(request, context, AggregatesPage(form, status=400))


@require_POST
@page
def aggregate_change(
    request: HttpRequest, context: RequestContext, aggregate_id: str, change: str
) -> HttpResponse:
    """Delete an aggregate, or add or remove a host: the os-aggregates actions."""
    action = {
        "delete": "os_compute_api:os-aggregates:delete",
        "add-host": "os_compute_api:os-aggregates:add_host",
        "remove-host": "os_compute_api:os-aggregates:remove_host",
    }.get(change)
    if action is None:
        raise NotFound(f"No such change of an aggregate: {change}.")
    authorize(context, action)
    aggregate = _aggregate(aggregate_id)
    form = HostForm(request.POST)
    if change != "delete" and not form.is_valid():
        failure = " ".join(str(error) for error in form["host"].errors)
        state = AggregatesPage(failed_aggregate=aggregate.pk, failure=failure, status=400)
        return _aggregates_page(request, context, state)
    try:
        if change == "delete":
            host_services.delete_aggregate(aggregate=aggregate)
            done = f"Aggregate {aggregate.name} deleted."
        elif change == "add-host":
            host = form.cleaned_data["host"]
            host_services.add_aggregate_host(aggregate=aggregate, host=host)
            done = f"{host} added to {aggregate.name}."
        else:
            host = form.cleaned_data["host"]
            host_services.remove_aggregate_host(aggregate=aggregate, host=host)
            done = f"{host} removed from {aggregate.name}."
    except ComputecloudError as exc:
        state = AggregatesPage(failed_aggregate=aggregate.pk, failure=exc.message, status=exc.code)
        return _aggregates_page(request, context, state)
    messages.success(request, done)
    return redirect("dashboard:aggregates")

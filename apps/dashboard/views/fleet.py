"""Placeholder pages, replaced as the pages are built."""

from django.http import HttpRequest, HttpResponse

from apps.dashboard.access import page, show
from apps.identity.context import RequestContext


@page
def hypervisor_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return show(request, context, "dashboard/placeholder.html", {"title": "Hypervisors"})


@page
def service_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return show(request, context, "dashboard/placeholder.html", {"title": "Compute services"})


@page
def aggregate_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return show(request, context, "dashboard/placeholder.html", {"title": "Aggregates"})

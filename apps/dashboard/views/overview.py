"""Placeholder page, replaced as the page is built."""

from django.http import HttpRequest, HttpResponse

from apps.dashboard.access import page, show
from apps.identity.context import RequestContext


@page
def overview(request: HttpRequest, context: RequestContext) -> HttpResponse:
    return show(request, context, "dashboard/placeholder.html", {"title": "overview"})

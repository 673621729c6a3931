"""Placeholder page, replaced as the page is built."""

from uuid import UUID

from django.http import HttpRequest, HttpResponse

from apps.dashboard.access import page, show
from apps.identity.context import RequestContext


@page
def server_detail(request: HttpRequest, context: RequestContext, server_id: UUID) -> HttpResponse:
    return show(request, context, "dashboard/placeholder.html", {"title": "Server"})

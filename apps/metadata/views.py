"""The metadata service's HTTP face: GET (and HEAD) only, plain text and JSON, no tokens.

Callers are guests, or a proxy in front of them, identified by `services.identify_instance`
rather than by Keystone; so these are plain Django views outside DRF, served by their own
listener (`apps.metadata.handler`, ``manage.py metadata_server``) under their own URLconf
(`apps.metadata.urls`). Errors answer in text, as Nova's metadata API (webob) does.
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.views import View

from apps.metadata import services
from apps.metadata.exceptions import MetadataNotFound
from computecloud.exceptions import ComputecloudError

TEXT = "text/plain; charset=utf-8"


class MetadataView(View):
    """Any path of the metadata tree (see `apps.metadata.content`)."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, path: str = "") -> HttpResponse:
        headers = request.headers
        try:
            document = services.metadata_document(
                path=path,
                remote_addr=request.META.get("REMOTE_ADDR", ""),
                forwarded_for=headers.get("X-Forwarded-For"),
                instance_id=headers.get("X-Instance-ID"),
                tenant_id=headers.get("X-Tenant-ID"),
                signature=headers.get("X-Instance-ID-Signature"),
            )
        except ComputecloudError as exc:
            return error_response(exc.code, exc.message)
        return HttpResponse(document.body, content_type=document.content_type)


def error_response(code: int, message: str) -> HttpResponse:
    """``404 Not Found`` and the message, in plain text."""
    reason = HTTPStatus(code).phrase
    return HttpResponse(f"{code} {reason}\n\n{message}\n", status=code, content_type=TEXT)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(404, MetadataNotFound.msg_fmt)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django has logged the exception with its traceback (logger django.request).
    return error_response(500, "An unknown error has occurred. Please try your request again.")

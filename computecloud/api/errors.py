"""The one API exception handler: every error leaves in the shape its client family expects.

- compute (Nova): ``{"itemNotFound": {"code": 404, "message": "..."}}``
- identity (Keystone) and image:
  ``{"error": {"code": 401, "title": "Unauthorized", "message": "..."}}``
- network (Neutron): ``{"NeutronError": {"type": "NetworkNotFound", "message": "...",
  "detail": ""}}``, the type being the domain exception's class name (Neutron's names, in
  apps/networks/exceptions.py) or, for what the framework refuses, Neutron's ``HTTP...`` name
A view picks the family with its ``error_style`` attribute (default: compute).
An unexpected exception is logged with the request id and answered as a 500 without a trace.
"""

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from computecloud.endpoints import identity_public_url
from computecloud.exceptions import AuthenticationRequired, ComputecloudError, RequestTooLarge

logger = logging.getLogger(__name__)

# Nova's fault names by status code (nova/api/openstack/wsgi.py's Fault).
NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def _nova_body(code: int, message: str) -> dict[str, Any]:
    return {NOVA_FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


# The webob exception names Neutron reports for errors that are not its own exceptions.
NEUTRON_HTTP_TYPES = {
    400: "HTTPBadRequest",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    406: "HTTPNotAcceptable",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    429: "HTTPTooManyRequests",
    500: "HTTPInternalServerError",
    501: "HTTPNotImplemented",
    503: "HTTPServiceUnavailable",
}


def _neutron_body(code: int, message: str, error_type: str | None) -> dict[str, Any]:
    kind = error_type or NEUTRON_HTTP_TYPES.get(code, "HTTPError")
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


def _keystone_body(code: int, message: str) -> dict[str, Any]:
    title = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
    return {"error": {"code": code, "title": title, "message": message}}


def _drf_message(detail: Any) -> str:
    """Flatten DRF's nested validation detail into one readable sentence naming the fields."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _drf_message(value)
            parts.append(text if field in ("non_field_errors", "detail") else f"{field}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_drf_message(item) for item in detail)
    return str(detail)


def error_response(
    view: Any,
    code: int,
    message: str,
    *,
    authentication: bool = False,
    error_type: str | None = None,
) -> Response:
    style = getattr(view, "error_style", "compute")
    # A missing or bad token is answered in Keystone's shape whatever the service
    # (keystonemiddleware does so in front of Nova); other 401s stay the service's own.
    if style == "neutron" and not authentication:
        body = _neutron_body(code, message, error_type)
    elif style != "compute" or authentication:
        body = _keystone_body(code, message)
    else:
        body = _nova_body(code, message)
    response = Response(body, status=code)
    if code == 401:
        response["WWW-Authenticate"] = f'Keystone uri="{identity_public_url()}"'
    return response


def _neutron_type(exc: ComputecloudError) -> str | None:
    """A domain exception's name as Neutron's error type; the generic bases of
    computecloud.exceptions (NotFound, Conflict, RequestTooLarge...) get the HTTP name."""
    if type(exc).__module__ == ComputecloudError.__module__ and type(exc).__name__ not in (
        "InvalidInput",
        "PolicyNotAuthorized",
    ):
        return None
    return type(exc).__name__


def _is_unstorable_input(exc: Exception) -> bool:
    """Text PostgreSQL cannot hold (a NUL byte): the client's input, not our fault."""
    return isinstance(exc, ValueError | DataError) and "NUL" in str(exc)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    view = context.get("view")
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    if isinstance(exc, ComputecloudError):
        set_rollback()
        return error_response(
            view,
            exc.code,
            exc.message,
            authentication=isinstance(exc, AuthenticationRequired),
            error_type=_neutron_type(exc),
        )
    if isinstance(exc, drf_exceptions.APIException):
        set_rollback()
        code = exc.status_code
        authentication = isinstance(
            exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed
        )
        if authentication:
            code = 401
            message = "The request you have made requires authentication."
        elif isinstance(exc, drf_exceptions.ValidationError):
            message = "Invalid input for field/attribute " + _drf_message(exc.detail)
        else:
            message = _drf_message(exc.detail)
        response = error_response(view, code, message, authentication=authentication)
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        return response
    if _is_unstorable_input(exc):
        set_rollback()
        return error_response(view, 400, "Invalid input: NUL characters are not allowed.")
    request = context.get("request")
    logger.error(
        "unexpected error serving %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        exc_info=exc,
    )
    set_rollback()
    return error_response(
        view, 500, "Unexpected API Error. Please report this with the request id."
    )

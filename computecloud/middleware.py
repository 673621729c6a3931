"""Request ids: every request gets one, every log line carries it, every response says it."""

import contextvars
import logging
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


class RequestIdMiddleware:
    """Assign ``req-<uuid>``, expose it as ``request.request_id`` and ``X-Openstack-Request-Id``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Openstack-Request-Id"] = request_id
        response["X-Compute-Request-Id"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every record (a Celery task sets it from its own id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True

"""Request ids: every request gets one, every log line carries it, every response says it."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# The id's context and log filter are plain Python, shared with the workers (computecloud.
# request_ids); the names stay importable from here, where the settings' LOGGING finds them.
from computecloud.request_ids import RequestIdLogFilter, new_request_id, request_id_var

__all__ = ["RequestIdLogFilter", "RequestIdMiddleware", "new_request_id", "request_id_var"]


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

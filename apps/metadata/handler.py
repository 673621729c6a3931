"""The metadata service's WSGI application: Django's handler with the metadata URLconf and
a middleware chain of its own (request ids, nothing else).

Why not the web process's chain: guests call http://169.254.169.254/ (``Host`` would fail
ALLOWED_HOSTS in CommonMiddleware), over plain HTTP (SECURE_SSL_REDIRECT must not apply),
with no sessions, cookies, CSRF or users; and ``/`` is the dashboard's there. The handler
keeps Django's request signals, so database connections are managed as in the web process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase

from computecloud.middleware import RequestIdMiddleware

URLCONF = "apps.metadata.urls"

Middleware = Callable[[Callable[[HttpRequest], Any]], Callable[[HttpRequest], Any]]


class MetadataHandler(WSGIHandler):
    """`WSGIHandler` routing with `URLCONF` through `middleware` (outermost first)."""

    middleware: tuple[Middleware, ...] = (RequestIdMiddleware,)

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware builds this chain from settings.MIDDLEWARE; this is the
        # same construction (Django's handler internals, unchanged since 1.10) over a fixed
        # list of synchronous middleware. tests/metadata check that the chain runs (request
        # ids) and that Host is not validated.
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        get_response = self._get_response  # type: ignore[attr-defined]
        handler = convert_exception_to_response(get_response)
        for factory in reversed(self.middleware):
            handler = convert_exception_to_response(factory(handler))
        self._middleware_chain = handler

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        # Django resolves with request.urlconf when set (and uses its handler404/500).
        request.urlconf = URLCONF
        return super().get_response(request)

"""The one gate every dashboard page passes, and what the templates may ask of the policy.

`page` signs the request in (or sends it to the sign-in page), builds its `RequestContext`
(`scope.context_for`), passes it to the view, and turns the services' refusals into pages
with the right status: the policy's 403, a 404 that reads the same for another project's id
as for an unknown one, a conflict's 409. The rules themselves are the API's: views call the
same service functions under the same policy table (`apps.identity.policy`).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.dashboard.scope import context_for, switchable_projects
from apps.identity import policy
from apps.identity.context import RequestContext
from computecloud.conf import cc_settings
from computecloud.exceptions import ComputecloudError

View = Callable[Concatenate[HttpRequest, RequestContext, ...], HttpResponse]


def can(context: RequestContext, action: str, target: dict[str, Any] | None = None) -> bool:
    """Whether the page should offer `action`: the policy's own answer, so a button shows
    exactly when the API would accept the request behind it."""
    return policy.allowed(context, action, target)


def content_security_policy() -> str:
    """Scripts, styles and fonts from this origin only; frames from the console proxy only
    (the console tab embeds its noVNC page); this page in nobody's frame."""
    proxy = urlsplit(cc_settings.CONSOLE_PROXY_URL)
    console_origin = f"{proxy.scheme}://{proxy.netloc}" if proxy.netloc else "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data:",
            "script-src 'self'",
            "style-src 'self'",
            f"frame-src {console_origin}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def secure(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = content_security_policy()
    # A page shows one user's project: never kept by a shared cache, re-fetched on Back.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


def show(
    request: HttpRequest,
    context: RequestContext,
    template: str,
    data: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    """Render a dashboard page: `data` plus what the layout needs (the caller's project,
    the projects they may switch to, whether to show the admins' section)."""
    return render(
        request,
        template,
        {
            **(data or {}),
            "dashboard": {
                "context": context,
                "project_id": context.project_id,
                "projects": [
                    {"id": project.pk, "name": project.name, "roles": [r.name for r in roles]}
                    for project, roles in switchable_projects(request)
                ],
                "is_admin": context.is_admin,
                "is_member": context.is_member,
            },
        },
        status=status,
    )


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    response = render(
        request,
        "dashboard/error.html",
        {"title": title, "message": message, "status": status},
        status=status,
    )
    return secure(response)


def page(view: View) -> Callable[..., HttpResponse]:
    """Wrap a dashboard view ``view(request, context, **kwargs)``."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        context = context_for(request)
        if context is None:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        try:
            response = view(request, context, *args, **kwargs)
        except ComputecloudError as exc:
            return error_page(request, exc.code, _TITLES.get(exc.code, "Error"), str(exc))
        return secure(response)

    return wrapped


_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    409: "Not now",
    413: "Over quota",
    429: "Slow down",
    501: "Not available",
}

"""Signing in and out, and switching project."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.dashboard.access import page, secure
from apps.dashboard.scope import switch_project
from apps.identity.context import RequestContext
from apps.identity.signin import SignInForm, answers_429_when_throttled


class DashboardLoginView(LoginView):
    """Users and passwords of the identity service, through its throttle (`SignInForm`)."""

    template_name = "dashboard/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return secure(super().dispatch(request, *args, **kwargs))


login_view = answers_429_when_throttled(DashboardLoginView.as_view())


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("dashboard:login")


@require_POST
@page
def switch_project_view(request: HttpRequest, context: RequestContext) -> HttpResponse:
    project = switch_project(request, request.POST.get("project", ""))
    if project is None:
        messages.error(request, "You hold no role in that project.")
    else:
        messages.success(request, f"Now working in project {project.name}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "/"
    return redirect(back)

"""The sign-in pages of the admin and of the browsable API, with the failure throttle.

Both pages are Django's `LoginView` with a form whose password check goes through
`apps.identity.backends.PasswordBackend` (so through the identity service's throttle). While
the user is locked out from the caller's address, the form shows why and the page answers
429 with Retry-After, as the token endpoint does; a wrong password is the form's usual
"invalid" error. The pages decide nothing else.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseBase

from apps.identity.throttle import TooManyAuthFailures


class ThrottledFormMixin:
    """Turns the throttle's refusal into a form error, and remembers it for the status."""

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()  # type: ignore[misc]
        except TooManyAuthFailures as exc:
            self.retry_after = exc.retry_after
            raise ValidationError(exc.message, code="throttled") from None


class SignInForm(ThrottledFormMixin, AuthenticationForm):
    """The browsable API's sign-in form."""


class AdminSignInForm(ThrottledFormMixin, AdminAuthenticationForm):
    """The admin's sign-in form (staff only, as Django's)."""


def answers_429_when_throttled(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Wrap a login view: a form refused by the throttle renders with 429 and Retry-After."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response

    return wrapped


api_login = answers_429_when_throttled(
    LoginView.as_view(template_name="rest_framework/login.html", authentication_form=SignInForm)
)


@answers_429_when_throttled
def admin_login(request: HttpRequest) -> HttpResponseBase:
    """The admin's own login view; its form is `AdminSignInForm` (apps/identity/admin.py)."""
    return admin.site.login(request)

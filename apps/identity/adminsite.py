"""The operators' admin site: who gets in follows the identity rules, not Django's flags alone.

Django lets any active ``is_staff`` user into the admin and then checks model permissions. Here
the admin is for operators only: an active staff user who is a superuser or holds the admin
role in the project a session acts in (`session_context`, the same context the admin's actions
run under, so whoever gets in is also allowed by the policy to do what the pages offer). A
member or reader of a project is refused, with or without ``is_staff``.

Installed in place of ``django.contrib.admin`` (settings: apps/identity/adminconfig.py), so
that ``admin.site`` everywhere is this site.
"""

import uuid
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from apps.identity.authentication import session_context
from apps.identity.context import RequestContext
from apps.identity.policy import Target, authorize
from apps.identity.signin import AdminSignInForm
from computecloud.exceptions import Forbidden


def is_operator(user: Any) -> bool:
    """Whether `user` may use the admin site."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    context = session_context(user)
    return context is not None and context.is_admin


def operator_context(
    request: HttpRequest, action: str, target: Target | None = None
) -> RequestContext:
    """The context an admin action runs under: the session's, allowed `action` on `target` by
    the API's policy table. Raises a `ComputecloudError` (403) otherwise, for the page to show.
    """
    context = session_context(request.user, request_id=f"req-{uuid.uuid4()}")
    if context is None:
        raise Forbidden(reason="your user has no project to act in.")
    authorize(context, action, target)
    return context


class OperatorSignInForm(AdminSignInForm):
    """The admin's sign-in form: refuses, with Django's message, whoever `is_operator` would."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not is_operator(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class OperatorAdminSite(AdminSite):
    site_header = "computecloud operators"
    site_title = "computecloud admin"
    index_title = "Fleet"
    login_form = OperatorSignInForm

    def has_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

"""The browsable API's renderer: DRF's, asking the policy which forms to show.

While it renders a page, DRF asks the view's permissions once per method (POST, PUT, DELETE,
OPTIONS) whether to offer its form, and reads only DRF's own exceptions as "no". The policy
refuses with the project's exceptions (`AuthenticationRequired`, `PolicyNotAuthorized`), which
the API's exception handler turns into the services' error bodies; while a page renders they
are a "no" too. Without this every page whose caller may not use one of the methods (a reader,
a member on an admin-only create, anyone not signed in) is a 500.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework.renderers import BrowsableAPIRenderer

from computecloud.exceptions import ComputecloudError

PERMISSION_CHECKS = ("check_permissions", "check_object_permissions")


def _refusal_as_drf(check: Callable[..., None]) -> Callable[..., None]:
    def checked(*args: Any) -> None:
        try:
            check(*args)
        except ComputecloudError as exc:
            raise drf_exceptions.PermissionDenied(exc.message) from exc

    return checked


@contextmanager
def policy_refusals_as_drf(view: Any) -> Iterator[None]:
    """While the page renders, the view's permission checks refuse in DRF's words."""
    for name in PERMISSION_CHECKS:
        setattr(view, name, _refusal_as_drf(getattr(view, name)))
    try:
        yield
    finally:
        for name in PERMISSION_CHECKS:
            delattr(view, name)


class PolicyBrowsableAPIRenderer(BrowsableAPIRenderer):
    def get_context(
        self, data: Any, accepted_media_type: str | None, renderer_context: Mapping[str, Any]
    ) -> dict[str, Any]:
        with policy_refusals_as_drf(renderer_context["view"]):
            return super().get_context(data, accepted_media_type, renderer_context)

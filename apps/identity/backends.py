"""Django's authentication backend for the sign-in pages (admin, browsable API).

Passwords are checked by `apps.identity.services.authenticate_password`, the same function
token requests use, so the pages share the token endpoint's failure throttle: failures count
per user and source address, whichever page or spelling was used. Permissions (the admin's
``has_perm``) are Django's, from `ModelBackend`.
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from apps.identity import services
from apps.identity.models import User
from apps.identity.throttle import source_address
from computecloud.exceptions import AuthenticationRequired


class PasswordBackend(ModelBackend):
    """Login name and password, checked and throttled by the identity service.

    Raises `apps.identity.throttle.TooManyAuthFailures` while the user is locked out from
    this address; the sign-in forms (`apps.identity.signin`) turn it into a 429 page.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        # No request: a call from inside the process (a test client's login()), no address.
        source = source_address(request.META) if request is not None else "-"
        try:
            return services.authenticate_password(
                user=services.UserRef(login=username), password=password, source=source
            )
        except AuthenticationRequired:
            return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # ModelBackend's own async variant checks the password itself: never the throttle.
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)

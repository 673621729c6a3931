"""Domain exceptions: each carries the HTTP status and message template the API answers.

Services raise these; `computecloud.api.errors.api_exception_handler` shapes them. No DRF or
Django imports here, so any layer may raise them.
"""

from typing import Any


class ComputecloudError(Exception):
    """Base of every domain error: an HTTP status and a message template."""

    code: int = 500
    msg_fmt: str = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.message = message if message is not None else self.msg_fmt % kwargs
        super().__init__(self.message)


class InvalidInput(ComputecloudError):
    code = 400
    msg_fmt = "Invalid input: %(reason)s"


class NotAuthorized(ComputecloudError):
    code = 401
    msg_fmt = "The request you have made requires authentication."


class AuthenticationRequired(NotAuthorized):
    """No valid token: answered in Keystone's shape by every service, as keystonemiddleware
    answers in front of Nova and Glance."""


class PolicyNotAuthorized(ComputecloudError):
    code = 403
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


class Forbidden(ComputecloudError):
    code = 403
    msg_fmt = "Forbidden: %(reason)s"


class NotFound(ComputecloudError):
    code = 404
    msg_fmt = "Resource could not be found."


class Conflict(ComputecloudError):
    code = 409
    msg_fmt = "Conflict: %(reason)s"


class RequestTooLarge(ComputecloudError):
    code = 413
    msg_fmt = "Request is too large: a JSON body may have at most %(limit)d bytes."


class QuotaExceeded(ComputecloudError):
    """Nova answers an exceeded quota with 403 and this message."""

    code = 403
    msg_fmt = (
        "Quota exceeded for %(resources)s: Requested %(req)s, but already used %(used)s "
        "of %(allowed)s %(resources)s"
    )


class FeatureNotImplemented(ComputecloudError):
    """An operation the API knows but this deployment cannot do (Nova's 501)."""

    code = 501
    msg_fmt = "Not implemented: %(reason)s"


class TooManyRequests(ComputecloudError):
    code = 429
    msg_fmt = "Too many requests: %(reason)s"

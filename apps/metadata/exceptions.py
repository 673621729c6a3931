"""Metadata service errors, with the status codes and messages Nova's metadata API answers."""

from computecloud.exceptions import Forbidden, InvalidInput, NotFound


class MetadataNotFound(NotFound):
    """No instance for this caller, or no document at this path: the same answer for both,
    so a caller learns nothing about instances that are not its own."""

    msg_fmt = "The resource could not be found."


class ProxyHeaderMissing(InvalidInput):
    msg_fmt = "%(header)s header is missing from request."


class InvalidProxySignature(Forbidden):
    msg_fmt = "Invalid proxy request signature."

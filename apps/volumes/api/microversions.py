"""Block-storage microversions: ``OpenStack-API-Version: volume 3.X`` read once per request
into ``request.version`` (an `APIVersion`, which compares with tuples). No header means 3.0,
as Cinder answers Tempest; ``latest`` means `MAX_VERSION`; above the range is a 406, a garbled
version a 400. Every answer names its version and varies on the header."""

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.versioning import BaseVersioning

from computecloud.api.microversions import NEW_HEADER, APIVersion

MIN_VERSION = APIVersion(3, 0)
MAX_VERSION = APIVersion(3, 71)


def requested_version(headers: Any) -> APIVersion:
    text = None
    for item in (headers.get(NEW_HEADER) or "").split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() == "volume":
            text = value.strip()
    if not text:
        return MIN_VERSION
    if text.lower() == "latest":
        return MAX_VERSION
    try:
        version = APIVersion.parse(text)
    except ValueError:
        raise exceptions.ValidationError(
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        ) from None
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise exceptions.NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {MIN_VERSION} and "
            f"maximum is {MAX_VERSION}."
        )
    return version


class VolumeMicroversioning(BaseVersioning):
    def determine_version(self, request: Request, *args: Any, **kwargs: Any) -> APIVersion:
        return requested_version(request.headers)


class VolumeMicroversionedMixin:
    """For block-storage views: negotiates the version and answers it in every response."""

    versioning_class = VolumeMicroversioning

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        version = getattr(request, "version", None)
        if not isinstance(version, APIVersion):
            version = MIN_VERSION
        response[NEW_HEADER] = f"volume {version}"
        response["Vary"] = NEW_HEADER
        return response

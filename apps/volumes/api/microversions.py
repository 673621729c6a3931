"""Block-storage microversions: ``OpenStack-API-Version: volume 3.X`` read once per request
into ``request.version`` (an `APIVersion`, which compares with tuples). No header means 3.0,
as Cinder answers Tempest; ``latest`` means `MAX_VERSION`; above the range is a 406, a garbled
version a 400. Every answer names its version and varies on the header."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.versioning import BaseVersioning

from computecloud.api.microversions import NEW_HEADER, APIVersion, header_version, negotiate

MIN_VERSION = APIVersion(3, 0)
MAX_VERSION = APIVersion(3, 71)


def requested_version(headers: Any) -> APIVersion:
    return negotiate(header_version(headers, "volume"), MIN_VERSION, MAX_VERSION)


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

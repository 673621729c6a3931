"""Compute API microversions: parsing, negotiation and the response headers.

A request's version is read once, by `ComputeMicroversioning` (a DRF versioning class), from
``OpenStack-API-Version: compute X.Y`` (preferred) or ``X-OpenStack-Nova-API-Version: X.Y``;
no header means 2.1, ``latest`` means `MAX_VERSION`, anything outside the range is a 406.
``request.version`` is then an `APIVersion`, which compares with tuples:
``if request.version >= (2, 47): ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.versioning import BaseVersioning

_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION_RE.match(text.strip())
        if not match:
            raise ValueError(text)
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def _tuple(self, other: Any) -> tuple[int, int]:
        if isinstance(other, APIVersion):
            return (other.major, other.minor)
        return (int(other[0]), int(other[1]))

    def __ge__(self, other: Any) -> bool:
        return (self.major, self.minor) >= self._tuple(other)

    def __gt__(self, other: Any) -> bool:
        return (self.major, self.minor) > self._tuple(other)

    def __le__(self, other: Any) -> bool:
        return (self.major, self.minor) <= self._tuple(other)

    def __lt__(self, other: Any) -> bool:
        return (self.major, self.minor) < self._tuple(other)


MIN_VERSION = APIVersion(2, 1)
# The newest microversion whose changes we serve for every resource we expose.
MAX_VERSION = APIVersion(2, 96)

NEW_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"


def header_version(headers: Any, service: str) -> str | None:
    """What ``OpenStack-API-Version`` asks of `service` ("compute 2.60", possibly among other
    services, comma separated), or None."""
    text = None
    for item in (headers.get(NEW_HEADER) or "").split(","):
        name, _, value = item.strip().partition(" ")
        if name.lower() == service:
            text = value.strip()
    return text


def negotiate(text: str | None, minimum: APIVersion, maximum: APIVersion) -> APIVersion:
    """The version `text` asks for: the minimum when none, the maximum for "latest"; 400 when
    garbled, 406 outside the range."""
    if not text:
        return minimum
    if text.lower() == "latest":
        return maximum
    try:
        version = APIVersion.parse(text)
    except ValueError:
        raise exceptions.ValidationError(
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        ) from None
    if not minimum <= version <= maximum:
        raise exceptions.NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {minimum} "
            f"and maximum is {maximum}."
        )
    return version


def requested_version(headers: Any) -> APIVersion:
    """The compute version a request asks for (the new header, else Nova's legacy one)."""
    text = header_version(headers, "compute")
    if text is None:
        text = headers.get(LEGACY_HEADER)
    return negotiate(text, MIN_VERSION, MAX_VERSION)


class ComputeMicroversioning(BaseVersioning):
    """DRF versioning: sets ``request.version`` to the negotiated `APIVersion`."""

    # DRF types a version as a string; ours is an `APIVersion` that compares with tuples.
    def determine_version(self, request: Request, *args: Any, **kwargs: Any) -> APIVersion:  # type: ignore[override]
        return requested_version(request.headers)


def add_version_headers(response: Response, version: APIVersion) -> None:
    response[NEW_HEADER] = f"compute {version}"
    response[LEGACY_HEADER] = str(version)
    response["Vary"] = f"{NEW_HEADER}, {LEGACY_HEADER}"


class MicroversionedMixin:
    """For compute views: negotiates the version and answers it in every response."""

    versioning_class: type[BaseVersioning] | None = ComputeMicroversioning

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # A mixin: the view class it is mixed into (an APIView) has finalize_response.
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        version = getattr(request, "version", None)
        if not isinstance(version, APIVersion):
            # The negotiation itself failed (406/400): answer with the minimum, as Nova does.
            version = MIN_VERSION
        add_version_headers(response, version)
        return response

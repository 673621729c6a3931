"""Compute API version discovery: ``GET /compute/`` and ``GET /compute/v2.1``.

Answered without a token (keystoneauth and Tempest read them before authenticating).
"""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from computecloud.api.microversions import MAX_VERSION, MIN_VERSION, MicroversionedMixin

MEDIA_TYPES = [
    {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
]


def _version_entries() -> list[dict[str, Any]]:
    base = f"{settings.PUBLIC_URL}/compute"
    return [
        {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/v2/"}],
        },
        {
            "id": "v2.1",
            "status": "CURRENT",
            "version": str(MAX_VERSION),
            "min_version": str(MIN_VERSION),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
        },
    ]


class ComputeVersionsView(APIView):
    """All compute API versions."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"versions": _version_entries()})


class ComputeVersionView(MicroversionedMixin, APIView):
    """One compute API version (``v2.1``, or ``v2`` served as 2.1)."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    version_id = "v2.1"

    def get(self, request: Request) -> Response:
        entry = next(e for e in _version_entries() if e["id"] == self.version_id)
        return Response({"version": {**entry, "media-types": MEDIA_TYPES}})

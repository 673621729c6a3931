"""A path that no route of a service matches: a 404 in that service's error shape.

Without it Django answers with its HTML page, which no OpenStack client can read. Each
service's URLconf ends with this view, naming its error style (computecloud/api/errors.py).
No token is asked: there is nothing there to protect.
"""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from computecloud.exceptions import NotFound


class UnknownPathView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    schema = None  # not an operation of the API document
    error_style = "compute"

    def _missing(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(f"The resource could not be found: {request.path}")

    get = post = put = patch = delete = head = options = _missing

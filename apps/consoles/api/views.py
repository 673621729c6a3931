"""Console APIs: /servers/{id}/remote-consoles (2.6+), the os-getVNCConsole action (before
2.6) and /os-console-auth-tokens/{token} (admin).

Views parse, authorise, call one service (`apps.consoles.services`) and shape the response.
"""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.consoles import services
from apps.consoles.api import serializers as s
from apps.consoles.exceptions import ConsoleTokenNotFound
from apps.identity.policy import authorize
from apps.servers.models import Server
from apps.servers.services import get_server
from computecloud.api.microversions import MicroversionedMixin
from computecloud.exceptions import NotAuthorized, NotFound

REMOTE_CONSOLES_POLICY = "os_compute_api:os-remote-consoles"
AUTH_TOKENS_POLICY = "os_compute_api:os-console-auth-tokens"


class _Versioned(MicroversionedMixin, viewsets.ViewSet):
    """A resource that exists only from `min_version`: a 404 below it, as Nova's routing."""

    min_version: tuple[int, int] = (2, 1)

    def check_permissions(self, request: Request) -> None:
        # After authentication and policy (an anonymous caller still gets its 401).
        super().check_permissions(request)
        if request.version < self.min_version:
            raise NotFound("The resource could not be found.")


class RemoteConsoleViewSet(_Versioned):
    """POST /servers/{server_id}/remote-consoles."""

    min_version = (2, 6)
    policy_actions = {"create": REMOTE_CONSOLES_POLICY}

    def create(self, request: Request, server_id: str) -> Response:
        body_class = s.RemoteConsoleBodyV28 if request.version >= (2, 8) else s.RemoteConsoleBodyV26
        serializer = body_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        spec = serializer.validated_data["remote_console"]
        server = get_server(request.auth, server_id)
        authorize(request.auth, REMOTE_CONSOLES_POLICY, target={"project_id": server.project_id})
        url = services.get_remote_console(
            context=request.auth,
            server=server,
            protocol=spec["protocol"],
            console_type=spec["type"],
        )
        return Response(
            {"remote_console": {"protocol": spec["protocol"], "type": spec["type"], "url": url}}
        )


def get_vnc_console_action(view: Any, request: Request, server: Server, args: Any) -> Response:
    """The os-getVNCConsole server action (2.1 to 2.5; Nova removed it at 2.6: then 404).

    Registered in the servers API's ``ACTION_HANDLERS``; `server` is already visible to the
    caller.
    """
    if request.version >= (2, 6):
        raise NotFound("The resource could not be found.")
    serializer = s.GetVNCConsoleBody(data=args if args is not None else {})
    serializer.is_valid(raise_exception=True)
    console_type = serializer.validated_data["type"]
    authorize(request.auth, REMOTE_CONSOLES_POLICY, target={"project_id": server.project_id})
    url = services.get_remote_console(
        context=request.auth, server=server, protocol="vnc", console_type=console_type
    )
    return Response({"console": {"type": console_type, "url": url}})


class ConsoleAuthTokenViewSet(_Versioned):
    """GET /os-console-auth-tokens/{token}: where a token leads (admin)."""

    lookup_value_regex = "[^/]+"
    policy_actions = {"retrieve": AUTH_TOKENS_POLICY}

    def retrieve(self, request: Request, pk: str) -> Response:
        token = services.resolve_token(pk)
        if token is None:
            raise ConsoleTokenNotFound()
        # Before 2.31 this API showed RDP tokens only (Nova: 401 for the others).
        if request.version < (2, 31) and token.console_type != "rdp-html5":
            raise NotAuthorized("The requested console type details are not accessible")
        return Response(
            {
                "console": {
                    "instance_uuid": str(token.server_uuid),
                    "host": token.host,
                    "port": token.port,
                    "internal_access_path": None,
                }
            }
        )

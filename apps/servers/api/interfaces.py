"""os-interface: a server's network interfaces, as Nova shows them (``interfaceAttachment``:
net_id, port_id, mac_addr, port_state, fixed_ips; ``tag`` from 2.70). Attach is 200 with the
new interface (``port_state`` BUILD until the host has plugged it), detach 202. The rules are
in `apps.servers.interfaces`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.servers import interfaces
from apps.servers import services as server_services
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.serializers import StrictSerializer
from computecloud.exceptions import InvalidInput


class FixedIp(StrictSerializer):
    ip_address = serializers.IPAddressField()


class AttachmentBody(StrictSerializer):
    port_id = serializers.UUIDField(required=False, format="hex_verbose")
    net_id = serializers.UUIDField(required=False, format="hex_verbose")
    fixed_ips = FixedIp(many=True, required=False, max_length=1)
    tag = serializers.CharField(max_length=60, required=False)


class AttachSerializer(StrictSerializer):
    interfaceAttachment = AttachmentBody(required=False)  # noqa: N815


def _view(row: dict[str, Any], version: Any) -> dict[str, Any]:
    body = {
        "net_id": row["net_id"],
        "port_id": row["port_id"],
        "mac_addr": row["mac_addr"],
        "port_state": row["port_state"],
        "fixed_ips": row["fixed_ips"],
    }
    if version >= (2, 70):
        body["tag"] = row.get("tag")
    return body


class InterfaceViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-attach-interfaces:list",
        "retrieve": "os_compute_api:os-attach-interfaces:show",
        "create": "os_compute_api:os-attach-interfaces:create",
        "destroy": "os_compute_api:os-attach-interfaces:delete",
    }

    def list(self, request: Request, server_id: str) -> Response:
        server = server_services.get_server(request.auth, server_id)
        rows = interfaces.list_interfaces(server)
        return Response({"interfaceAttachments": [_view(r, request.version) for r in rows]})

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        server = server_services.get_server(request.auth, server_id)
        row = interfaces.get_interface(server, pk)
        return Response({"interfaceAttachment": _view(row, request.version)})

    def create(self, request: Request, server_id: str) -> Response:
        serializer = AttachSerializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data.get("interfaceAttachment") or {}
        if "tag" in data and request.version < (2, 49):
            raise InvalidInput(
                "Invalid input for field/attribute interfaceAttachment. Additional properties "
                "are not allowed ('tag' was unexpected)"
            )
        server = server_services.get_server(request.auth, server_id)
        fixed_ips = data.get("fixed_ips") or []
        row = interfaces.attach_interface(
            context=request.auth,
            server=server,
            request_id=request.request_id,
            network_id=str(data["net_id"]) if data.get("net_id") else None,
            port_id=str(data["port_id"]) if data.get("port_id") else None,
            fixed_ip=fixed_ips[0]["ip_address"] if fixed_ips else None,
            tag=data.get("tag"),
        )
        return Response({"interfaceAttachment": _view(row, request.version)})

    def destroy(self, request: Request, server_id: str, pk: str) -> Response:
        server = server_services.get_server(request.auth, server_id)
        interfaces.detach_interface(
            context=request.auth, server=server, port_id=pk, request_id=request.request_id
        )
        return Response(status=202)

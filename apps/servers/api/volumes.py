"""os-volume_attachments: a server's volumes, as Nova shows them (``volumeAttachment``: id,
volumeId, serverId, device; ``tag`` from 2.70; ``delete_on_termination`` from 2.79; from
2.89 the list and show trade ``id`` for ``attachment_id`` and ``bdm_uuid``). Attach is 200
with the attachment (the device reserved), detach 202. The rules are in
`apps.servers.volumes`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.servers import services as server_services
from apps.servers import volumes
from apps.servers.models import BlockDeviceMapping
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.serializers import StrictSerializer
from computecloud.booleans import parse_bool
from computecloud.exceptions import InvalidInput

DEVICE = r"^/dev/x?[a-z]?d?[a-z]+[0-9]*$"


def boolean_like(value: Any, field: str) -> bool:
    """Nova's boolean-like values: JSON booleans, or the words strutils accepts."""
    parsed = parse_bool(value)
    if parsed is None:
        raise InvalidInput(f"Invalid input for field/attribute {field}. Value: {value}.")
    return parsed


class AttachmentBody(StrictSerializer):
    volumeId = serializers.UUIDField(format="hex_verbose")  # noqa: N815
    device = serializers.RegexField(DEVICE, max_length=255, required=False, allow_null=True)
    tag = serializers.CharField(max_length=60, required=False)
    delete_on_termination = serializers.JSONField(required=False)


class AttachSerializer(StrictSerializer):
    volumeAttachment = AttachmentBody()  # noqa: N815


def _view(bdm: BlockDeviceMapping, server_id: str, version: Any, *, answer: bool) -> dict:
    """One attachment at `version`; `answer`: the POST's body, which keeps 2.79's shape."""
    body: dict[str, Any] = {
        "volumeId": str(bdm.volume_id),
        "serverId": server_id,
        "device": bdm.device_name or None,
    }
    if answer or version < (2, 89):
        body["id"] = str(bdm.volume_id)
    if version >= (2, 70):
        body["tag"] = bdm.tag
    if version >= (2, 79):
        body["delete_on_termination"] = bdm.delete_on_termination
    if version >= (2, 89) and not answer:
        body["attachment_id"] = str(bdm.attachment_id) if bdm.attachment_id else None
        body["bdm_uuid"] = str(bdm.uuid)
    return body


class VolumeAttachmentViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-volumes-attachments:index",
        "retrieve": "os_compute_api:os-volumes-attachments:show",
        "create": "os_compute_api:os-volumes-attachments:create",
        "destroy": "os_compute_api:os-volumes-attachments:delete",
    }

    def list(self, request: Request, server_id: str) -> Response:
        server = server_services.get_server(request.auth, server_id)
        rows = volumes.list_attachments(server)
        limit, offset = request.query_params.get("limit"), request.query_params.get("offset")
        start = _non_negative(offset, "offset") if offset is not None else 0
        rows = rows[start:]
        if limit is not None:
            rows = rows[: _non_negative(limit, "limit")]
        uuid = str(server.uuid)
        return Response(
            {"volumeAttachments": [_view(r, uuid, request.version, answer=False) for r in rows]}
        )

    def retrieve(self, request: Request, server_id: str, pk: str) -> Response:
        server = server_services.get_server(request.auth, server_id)
        bdm = volumes.get_attachment(server, pk)
        return Response(
            {"volumeAttachment": _view(bdm, str(server.uuid), request.version, answer=False)}
        )

    def create(self, request: Request, server_id: str) -> Response:
        serializer = AttachSerializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["volumeAttachment"]
        allowed = {"volumeId", "device"}
        if request.version >= (2, 49):
            allowed.add("tag")
        if request.version >= (2, 79):
            allowed.add("delete_on_termination")
        unexpected = sorted(set(data) - allowed)
        if unexpected:
            raise InvalidInput(
                "Invalid input for field/attribute volumeAttachment. Additional properties "
                f"are not allowed ({unexpected[0]!r} was unexpected)"
            )
        server = server_services.get_server(request.auth, server_id)
        bdm = volumes.attach_volume(
            context=request.auth,
            server=server,
            volume_id=str(data["volumeId"]),
            request_id=request.request_id,
            device=data.get("device"),
            tag=data.get("tag"),
            delete_on_termination=boolean_like(
                data.get("delete_on_termination", False), "delete_on_termination"
            ),
        )
        return Response(
            {"volumeAttachment": _view(bdm, str(server.uuid), request.version, answer=True)}
        )

    def destroy(self, request: Request, server_id: str, pk: str) -> Response:
        server = server_services.get_server(request.auth, server_id)
        volumes.detach_volume(
            context=request.auth, server=server, volume_id=pk, request_id=request.request_id
        )
        return Response(status=202)


def _non_negative(value: str, name: str) -> int:
    if not value.isdigit():
        raise InvalidInput(f"Invalid input for query parameters {name}. Value: {value}.")
    return int(value)

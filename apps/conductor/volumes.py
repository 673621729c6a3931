"""The conductor's side of volumes: what hosts report about their pools and about the
storage operations and attachments they carried out.

Storage results are the volume service's to record (`apps.volumes.services`); attachments
change a server too (its block device mappings, its action history), so they are settled
here with both apps' services."""

import logging
from typing import Any

from django.db import transaction

from apps.servers import history
from apps.servers.models import BlockDeviceMapping, Server
from apps.volumes import attachments
from apps.volumes import services as volume_services
from computecloud.wire import StoragePoolPayload

logger = logging.getLogger(__name__)


def record_pool(*, host: str, storage: StoragePoolPayload | None) -> None:
    """A host's heartbeat or start-up carried its volume pool (None: it keeps none)."""
    volume_services.report_pool(host=host, storage=storage)


def volume_done(
    *,
    host: str,
    operation: str,
    volume_id: str,
    snapshot_id: str | None,
    request_id: str | None,
    ok: bool,
    fault: dict[str, Any],
) -> None:
    volume_services.operation_done(
        host=host,
        operation=operation,
        volume_id=volume_id,
        snapshot_id=snapshot_id,
        request_id=request_id,
        ok=ok,
        fault=fault,
    )


def volume_attached(
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None,
    fault: dict[str, Any],
) -> None:
    """A host plugged a volume into a guest (the volume ``in-use``, the mapping attached on
    the device the domain used), or could not (the volume given back, the mapping gone)."""
    server = Server.objects.filter(uuid=server_uuid).first()
    with transaction.atomic():
        if ok:
            device_name = f"/dev/{device}" if device else ""
            if attachments.attached(
                volume_id=volume_id, instance_uuid=server_uuid, device=device_name, host=host
            ):
                BlockDeviceMapping.objects.filter(
                    server__uuid=server_uuid, volume_id=volume_id
                ).update(attached=True, **({"device_name": device_name} if device else {}))
        else:
            attachments.attach_failed(volume_id=volume_id, instance_uuid=server_uuid)
            BlockDeviceMapping.objects.filter(
                server__uuid=server_uuid, volume_id=volume_id, attached=False
            ).delete()
        _finish(server, request_id, "compute_attach_volume", ok, host, fault)
    logger.info(
        "server %s: volume %s %s on %s",
        server_uuid,
        volume_id,
        f"attached as {device}" if ok else f"failed to attach: {fault.get('message', '')}",
        host,
    )


def volume_detached(
    *,
    host: str,
    server_uuid: str,
    volume_id: str,
    attachment_id: str,
    request_id: str | None,
    ok: bool,
    device: str | None,
    fault: dict[str, Any],
) -> None:
    """A host unplugged a volume (the mapping goes, the volume is available), or the guest
    kept it (still attached and in use; the action failed with the host's reason)."""
    server = Server.objects.filter(uuid=server_uuid).first()
    with transaction.atomic():
        if ok:
            attachments.detached(volume_id=volume_id, instance_uuid=server_uuid)
            BlockDeviceMapping.objects.filter(
                server__uuid=server_uuid, volume_id=volume_id
            ).delete()
        else:
            attachments.detach_failed(volume_id=volume_id, instance_uuid=server_uuid)
        _finish(server, request_id, "compute_detach_volume", ok, host, fault)
    logger.info(
        "server %s: volume %s %s on %s",
        server_uuid,
        volume_id,
        "detached" if ok else f"kept by the guest: {fault.get('message', '')}",
        host,
    )


def _finish(
    server: Server | None, request_id: str | None, event: str, ok: bool, host: str, fault: dict
) -> None:
    if server is not None and request_id:
        history.finish_event(
            server=server,
            request_id=request_id,
            event=event,
            ok=ok,
            host=host,
            details=(fault or {}).get("message", "") if not ok else "",
        )

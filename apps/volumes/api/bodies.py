"""The block-storage API's response bodies, Cinder's field sets (CINDER-SUBSET.md 2.4-2.7).

Tempest validates bodies with ``additionalProperties: false``: a key appears only at the
microversions and for the callers Cinder gives it to, and create and update answers leave
out what Cinder adds only on show and detail (the ``os-vol-*`` keys, the image metadata).
"""

from typing import Any

from django.conf import settings

from apps.identity.context import RequestContext
from apps.volumes.choices import AttachStatus, SnapshotStatus
from apps.volumes.models import Volume, VolumeSnapshot, VolumeType
from computecloud.api.microversions import APIVersion
from computecloud.api.timeformat import iso_micro


def _links(collection: str, pk: Any) -> list[dict[str, str]]:
    base = f"{settings.PUBLIC_URL}/volume"
    return [
        {"href": f"{base}/v3/{collection}/{pk}", "rel": "self"},
        {"href": f"{base}/{collection}/{pk}", "rel": "bookmark"},
    ]


def volume_summary(volume: Volume) -> dict[str, Any]:
    return {"id": str(volume.pk), "name": volume.name, "links": _links("volumes", volume.pk)}


def attachments(volume: Volume, context: RequestContext) -> list[dict[str, Any]]:
    """The volume's attachments once attached (one being made or undone is not listed)."""
    return [
        {
            "server_id": str(a.instance_uuid),
            "attachment_id": str(a.pk),
            "volume_id": str(volume.pk),
            "device": a.device or None,
            "host_name": (a.host_name or None) if context.is_admin else None,
            "id": str(volume.pk),
            "attached_at": iso_micro(a.attached_at),
        }
        for a in volume.attachments.all()
        if a.status == AttachStatus.ATTACHED
    ]


def volume_body(
    volume: Volume, context: RequestContext, version: APIVersion, *, detail: bool = True
) -> dict[str, Any]:
    """A volume as show and detail give it (`detail`), or as create and update do."""
    body: dict[str, Any] = {
        "id": str(volume.pk),
        "name": volume.name,
        "description": volume.description,
        "size": volume.size,
        "status": volume.status,
        "attachments": attachments(volume, context),
        "bootable": "true" if volume.bootable else "false",
        "multiattach": volume.multiattach,
        "availability_zone": volume.availability_zone,
        "created_at": iso_micro(volume.created_at),
        "updated_at": iso_micro(volume.updated_at),
        "volume_type": volume.volume_type.name,
        "metadata": dict(volume.metadata),
        "links": _links("volumes", volume.pk),
        "user_id": volume.user_id,
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "snapshot_id": str(volume.snapshot_id) if volume.snapshot_id else None,
        "source_volid": str(volume.source_volid) if volume.source_volid else None,
    }
    admin = context.is_admin
    if admin:
        body["migration_status"] = None
    if detail:
        body["os-vol-tenant-attr:tenant_id"] = volume.project_id
        if volume.volume_image_metadata:
            body["volume_image_metadata"] = dict(volume.volume_image_metadata)
        if admin:
            body["os-vol-host-attr:host"] = volume.pool.name if volume.pool else None
            body["os-vol-mig-status-attr:migstat"] = None
            body["os-vol-mig-status-attr:name_id"] = None
    if version >= (3, 13):
        body["group_id"] = None
    if version >= (3, 21) and admin:
        body["provider_id"] = None
    if version >= (3, 48):
        body["service_uuid"] = None
        body["shared_targets"] = False
    if version >= (3, 61) and admin:
        body["cluster_name"] = None
    if version >= (3, 63):
        body["volume_type_id"] = str(volume.volume_type_id)
    if version >= (3, 64):
        body["encryption_key_id"] = None
    if version >= (3, 65):
        body["consumes_quota"] = True
    return body


def snapshot_body(
    snapshot: VolumeSnapshot, version: APIVersion, *, detail: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(snapshot.pk),
        "name": snapshot.name,
        "description": snapshot.description,
        "status": snapshot.status,
        "size": snapshot.size,
        "volume_id": str(snapshot.volume_id),
        "created_at": iso_micro(snapshot.created_at),
        "updated_at": iso_micro(snapshot.updated_at),
        "metadata": dict(snapshot.metadata),
    }
    if detail:
        done = snapshot.status == SnapshotStatus.AVAILABLE
        body["os-extended-snapshot-attributes:project_id"] = snapshot.project_id
        body["os-extended-snapshot-attributes:progress"] = "100%" if done else "0%"
    if version >= (3, 14):
        body["group_snapshot_id"] = None
    if version >= (3, 41):
        body["user_id"] = snapshot.user_id
    if version >= (3, 65):
        body["consumes_quota"] = True
    return body


def type_body(kind: VolumeType, context: RequestContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(kind.pk),
        "name": kind.name,
        "description": kind.description,
        "is_public": kind.is_public,
        "os-volume-type-access:is_public": kind.is_public,
        "extra_specs": dict(kind.extra_specs),
    }
    if context.is_admin:
        body["qos_specs_id"] = None
    return body


# Cinder's limit names for its quota resources, in GET /limits.
ABSOLUTE_LIMITS = {
    "volumes": "maxTotalVolumes",
    "snapshots": "maxTotalSnapshots",
    "gigabytes": "maxTotalVolumeGigabytes",
    "backups": "maxTotalBackups",
    "backup_gigabytes": "maxTotalBackupGigabytes",
}
ABSOLUTE_USED = {
    "volumes": "totalVolumesUsed",
    "gigabytes": "totalGigabytesUsed",
    "snapshots": "totalSnapshotsUsed",
    "backups": "totalBackupsUsed",
    "backup_gigabytes": "totalBackupGigabytesUsed",
}


def limits_body(limits: dict[str, int], used: dict[str, int]) -> dict[str, Any]:
    absolute = {name: limits[resource] for resource, name in ABSOLUTE_LIMITS.items()}
    absolute.update({name: used.get(resource, 0) for resource, name in ABSOLUTE_USED.items()})
    return {"limits": {"rate": [], "absolute": absolute}}


def quota_set_body(
    project_id: str, limits: dict[str, int], used: dict[str, int] | None
) -> dict[str, Any]:
    """A project's quota set; with `used`, each value is ``{limit, in_use, reserved}``."""
    body: dict[str, Any] = {"id": project_id}
    for resource, limit in limits.items():
        body[resource] = (
            limit
            if used is None
            else {"limit": limit, "in_use": used.get(resource, 0), "reserved": 0}
        )
    return {"quota_set": body}

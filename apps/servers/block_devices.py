"""A server create's block_device_mapping_v2, read and checked as Nova does (every refusal a
400), into what the server boots from: an image on a local disk, or a volume.

Served: the image on a local root disk (what the CLI sends with --image); a root volume from
an existing volume (bootable), or made by the build from an image, a snapshot or nothing
(blank) with ``volume_size``; more volumes of those kinds after the root. Local blank devices
(ephemeral and swap given in the mapping) are refused: the flavor gives those.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from dataclasses import asdict, dataclass
from typing import Any

from apps.identity.context import RequestContext
from apps.volumes import attachments as volumes
from apps.volumes import exceptions as volume_errors
from apps.volumes.choices import SnapshotStatus, VolumeStatus
from apps.volumes.models import Volume, VolumeSnapshot
from computecloud.booleans import parse_bool
from computecloud.exceptions import InvalidInput

SOURCES = frozenset({"volume", "image", "snapshot", "blank"})
DESTINATIONS = frozenset({"local", "volume"})
KEYS = frozenset(
    {
        "source_type",
        "destination_type",
        "uuid",
        "boot_index",
        "device_name",
        "volume_size",
        "delete_on_termination",
        "guest_format",
        "device_type",
        "disk_bus",
        "no_device",
        "tag",
        "volume_type",
        # The legacy keys Nova still reads in a v2 mapping.
        "image_id",
        "volume_id",
        "snapshot_id",
        "virtual_name",
        "connection_info",
    }
)
UUID_CHARS = re.compile(r"^[a-zA-Z0-9._-]*$")
DEVICE_CHARS = re.compile(r"^[a-zA-Z0-9._/-]*$")


@dataclass(frozen=True)
class VolumeMapping:
    """One volume the server gets: an existing one (`source_type` volume) or one the build
    makes (image, snapshot, blank) of `volume_size` GiB."""

    source_type: str
    uuid: str | None
    boot_index: int | None
    volume_size: int | None
    delete_on_termination: bool
    device_name: str | None
    tag: str | None
    disk_bus: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VolumeMapping:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class BootDevices:
    image_id: str | None  # the image on a local root disk; None: the root is a volume
    volumes: list[VolumeMapping]

    @property
    def root_volume(self) -> VolumeMapping | None:
        return next((v for v in self.volumes if v.boot_index == 0), None)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(f"Block Device Mapping is Invalid: {message}")


def _int(value: Any, field: str, *, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"Invalid input for field/attribute {field}. Value: {value}.")
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,9}", text) or int(text) < minimum:
        raise InvalidInput(f"Invalid input for field/attribute {field}. Value: {value}.")
    return int(text)


def _bool(value: Any, field: str) -> bool:
    parsed = parse_bool(value)
    if parsed is None:
        raise InvalidInput(f"Invalid input for field/attribute {field}. Value: {value}.")
    return parsed


def _text(value: Any, field: str, pattern: re.Pattern[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 255 or not pattern.match(value):
        raise InvalidInput(f"Invalid input for field/attribute {field}. Value: {value}.")
    return value


def _one(mapping: Any, version: tuple[int, int]) -> tuple[str, str, VolumeMapping]:
    if not isinstance(mapping, dict):
        raise InvalidInput("Invalid input for field/attribute block_device_mapping_v2.")
    unknown = sorted(set(mapping) - KEYS)
    if unknown or ("tag" in mapping and version < (2, 42)):
        raise InvalidInput(
            "Invalid input for field/attribute block_device_mapping_v2. Additional properties "
            f"are not allowed ({(unknown or ['tag'])[0]!r} was unexpected)"
        )
    if "volume_type" in mapping and version < (2, 67):
        raise InvalidInput(
            "Invalid input for field/attribute block_device_mapping_v2. Additional properties "
            "are not allowed ('volume_type' was unexpected)"
        )
    source = mapping.get("source_type") or "blank"
    if source not in SOURCES:
        raise InvalidInput(f"Invalid input for field/attribute source_type. Value: {source}.")
    destination = mapping.get("destination_type") or (
        "local" if source in ("blank", "image") else "volume"
    )
    if destination not in DESTINATIONS:
        raise InvalidInput(
            f"Invalid input for field/attribute destination_type. Value: {destination}."
        )
    uuid = _text(
        mapping.get("uuid") or mapping.get(f"{source}_id" if source != "blank" else "uuid"),
        "uuid",
        UUID_CHARS,
    )
    if source == "blank" and uuid:
        raise _invalid("a blank device cannot have a uuid.")
    if source != "blank" and not uuid:
        raise _invalid(f"a {source} device needs a uuid.")
    if mapping.get("volume_type") is not None and (destination == "local" or source == "volume"):
        raise _invalid("volume_type applies only to a volume the server creates.")
    entry = VolumeMapping(
        source_type=source,
        uuid=uuid,
        boot_index=_int(mapping.get("boot_index"), "boot_index", minimum=-1),
        volume_size=_int(mapping.get("volume_size"), "volume_size", minimum=1),
        delete_on_termination=_bool(
            mapping.get("delete_on_termination", False), "delete_on_termination"
        ),
        device_name=_text(mapping.get("device_name"), "device_name", DEVICE_CHARS),
        tag=mapping.get("tag") if isinstance(mapping.get("tag"), str) else None,
        disk_bus=mapping.get("disk_bus") if isinstance(mapping.get("disk_bus"), str) else None,
    )
    return source, destination, entry


def plan(
    *,
    context: RequestContext,
    mappings: list[Any],
    image_ref: str,
    version: tuple[int, int],
    max_count: int,
) -> BootDevices:
    """What the server boots from and which volumes it gets; `InvalidInput` (400) for any
    mapping Nova refuses."""
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1] if image_ref else None
    if not mappings:
        return BootDevices(image_id=image_id, volumes=[])
    local_image: str | None = None
    wanted: list[VolumeMapping] = []
    boot_indexes: list[int] = []
    for mapping in mappings:
        source, destination, entry = _one(mapping, version)
        if entry.boot_index is not None and entry.boot_index >= 0:
            boot_indexes.append(entry.boot_index)
        if destination == "local":
            if source == "image" and entry.boot_index == 0 and not local_image:
                local_image = entry.uuid
                continue
            if source == "image":
                raise _invalid("an image on a local disk must be the boot device (boot_index 0).")
            raise _invalid(
                "local blank devices (ephemeral, swap) are not supported; the flavor gives them."
            )
        if source in ("image", "blank") and entry.volume_size is None:
            raise _invalid(f"a volume from a {source} source needs a volume_size.")
        wanted.append(entry)
    if sorted(boot_indexes) != list(range(len(boot_indexes))):
        raise _invalid(
            "Boot sequence for the instance and image/block device mapping "
            "combination is not valid."
        )
    if local_image and image_id and local_image != image_id:
        raise InvalidInput("The image in block_device_mapping_v2 differs from imageRef.")
    root_volume = next((v for v in wanted if v.boot_index == 0), None)
    if root_volume is None and not (local_image or image_id):
        raise _invalid(
            "Boot sequence for the instance and image/block device mapping "
            "combination is not valid."
        )
    if max_count > 1 and any(v.source_type == "volume" for v in wanted):
        raise InvalidInput("Unable to launch multiple instances with a single configured volume.")
    for entry in wanted:
        _check_source(context, entry)
    return BootDevices(image_id=None if root_volume else (local_image or image_id), volumes=wanted)


def _check_source(context: RequestContext, entry: VolumeMapping) -> None:
    """The volume or snapshot named must be the project's and usable; a root volume must be
    bootable. Images are checked by the caller (it needs the flavor)."""
    if entry.source_type == "volume":
        try:
            volume = volumes.find_volume(
                project_id=context.project_id, is_admin=context.is_admin, volume_id=entry.uuid
            )
        except volume_errors.VolumeNotFound:
            raise _invalid(f"failed to get volume {entry.uuid}.") from None
        if volume.status != VolumeStatus.AVAILABLE or volume.attachments.exists():
            raise InvalidInput(
                f"Invalid volume: volume {volume.pk} status must be 'available', "
                f"not {volume.status}."
            )
        if entry.boot_index == 0 and not volume.bootable:
            raise InvalidInput(f"Block Device {volume.pk} is not bootable.")
    elif entry.source_type == "snapshot":
        snapshot = (
            VolumeSnapshot.objects.filter(pk=_uuid_or_none(entry.uuid))
            .filter(**({} if context.is_admin else {"project_id": context.project_id}))
            .first()
        )
        if snapshot is None:
            raise _invalid(f"failed to get snapshot {entry.uuid}.")
        if snapshot.status != SnapshotStatus.AVAILABLE:
            raise InvalidInput(f"Invalid snapshot: snapshot {snapshot.pk} is {snapshot.status}.")


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid_module.UUID(value or ""))
    except ValueError:
        return None


def root_volume_meta(entry: VolumeMapping) -> dict[str, Any]:
    """The image facts of a server booted from an existing volume: what the volume was made
    from (its image's properties), as the build and the metadata service read them."""
    volume = Volume.objects.get(pk=entry.uuid)
    meta = dict(volume.volume_image_metadata or {})
    base = {k: meta.pop(k) for k in list(meta) if k in _IMAGE_FIELDS}
    return {
        "id": "",
        "name": base.get("image_name", ""),
        "min_ram": int(base.get("min_ram") or 0),
        "min_disk": int(base.get("min_disk") or 0),
        "disk_format": base.get("disk_format", "raw"),
        "container_format": base.get("container_format", "bare"),
        "properties": meta,
    }


_IMAGE_FIELDS = frozenset(
    {
        "image_id",
        "image_name",
        "checksum",
        "size",
        "min_ram",
        "min_disk",
        "disk_format",
        "container_format",
    }
)

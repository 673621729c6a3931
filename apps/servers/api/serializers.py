"""Server request serializers (Nova's request schemas) and response presenters (its views).

Request serializers reject unknown keys. Presenters are plain functions from records to
Nova's bodies, microversion by microversion; the view chooses what the caller may see.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import unicodedata
import uuid
from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.servers.faults import shows_details
from apps.servers.models import InstanceAction
from apps.servers.services import host_id
from apps.servers.states import api_status
from computecloud.api.microversions import APIVersion
from computecloud.api.serializers import StrictSerializer
from computecloud.api.timeformat import iso_micro

# Nova's tag pattern, less control characters (a newline in a tag would end up in the
# Location header and in log lines); used with fullmatch, so "$" cannot match before "\n".
TAG_RE = re.compile(r"[^,/\x00-\x1f\x7f]{1,60}")


# --- requests -----------------------------------------------------------------------------------
def _validate_user_data(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise serializers.ValidationError("user_data must be base64 encoded.") from None
    if len(value) > 65535:
        raise serializers.ValidationError("user_data is longer than 65535 bytes.")
    return value


class AccessIPField(serializers.CharField):
    """accessIPv4 / accessIPv6: any address the version's parser accepts (an IPv6 address
    may end in dotted IPv4, as ``::babe:220.12.22.2``), kept in its compressed form, which
    is how Nova shows it back."""

    def __init__(self, *, version: int, **kwargs: Any) -> None:
        self.ip_class = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return str(self.ip_class(text))
        except ValueError:
            kind = "IPv4" if self.ip_class is ipaddress.IPv4Address else "IPv6"
            raise serializers.ValidationError(f"{text!r} is not a valid {kind} address.") from None


class MetadataField(serializers.DictField):
    child = serializers.CharField(max_length=255, allow_blank=True)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        result = super().to_internal_value(data)
        for key in result:
            if not 1 <= len(key) <= 255:
                raise serializers.ValidationError("metadata keys must be 1 to 255 characters.")
        return result


class SecurityGroupRef(StrictSerializer):
    name = serializers.CharField(max_length=255)


class StringField(serializers.CharField):
    """A JSON string only: DRF's CharField would take 12345 or true and turn them into text,
    where Nova's schemas (``"type": "string"``) refuse them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Not a string.")
        return super().to_internal_value(data)


class NameField(StringField):
    """A display name: a JSON string of printable characters, as Nova's name pattern wants.
    A control character (a newline, an escape) or a line separator is refused: names reach
    logs, consoles and headers, where such characters forge or break lines."""

    def to_internal_value(self, data: Any) -> str:
        # Checked before the trimming of surrounding white space, which would hide a "\r".
        if isinstance(data, str) and any(unicodedata.category(c) in _UNPRINTABLE for c in data):
            raise serializers.ValidationError("Names may not contain control characters.")
        return super().to_internal_value(data)


_UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


class ServerIdList(serializers.Field):
    """One server id, or a list of them (Nova's same_host / different_host forms); always
    returned as a list of canonical uuid strings."""

    MAX_ITEMS = 100

    def to_internal_value(self, data: Any) -> list[str]:
        items = [data] if isinstance(data, str) else data
        if not isinstance(items, list) or not items or len(items) > self.MAX_ITEMS:
            raise serializers.ValidationError(
                f"Must be a server id or a list of 1 to {self.MAX_ITEMS} server ids."
            )
        ids = []
        for item in items:
            try:
                ids.append(str(uuid.UUID(item)))
            except (TypeError, ValueError, AttributeError):
                raise serializers.ValidationError(f"{item!r} is not a server id.") from None
        return list(dict.fromkeys(ids))


class SchedulerHints(StrictSerializer):
    """The scheduler hints a user may give: an allow-list of Nova's public hints that our
    filters read, each validated. Any other key is refused (a hint no filter reads would be
    silently ignored, and request input must never reach the scheduler's own state)."""

    group = serializers.UUIDField(required=False, format="hex_verbose")
    same_host = ServerIdList(required=False)
    different_host = ServerIdList(required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        hints = super().to_internal_value(data)
        if "group" in hints:
            hints["group"] = str(hints["group"])
        return dict(hints)


class BlockDeviceMapping(StrictSerializer):
    """One entry of block_device_mapping(_v2), Nova's keys of both forms with their bounds."""

    source_type = serializers.ChoiceField(
        choices=["volume", "image", "snapshot", "blank"], required=False
    )
    destination_type = serializers.ChoiceField(choices=["local", "volume"], required=False)
    uuid = serializers.CharField(max_length=255, required=False)
    image_id = serializers.CharField(max_length=255, required=False)
    volume_id = serializers.CharField(max_length=255, required=False)
    snapshot_id = serializers.CharField(max_length=255, required=False)
    boot_index = serializers.JSONField(required=False, allow_null=True)
    device_name = serializers.CharField(max_length=255, required=False, allow_null=True)
    volume_size = serializers.JSONField(required=False, allow_null=True)
    delete_on_termination = serializers.JSONField(required=False)
    guest_format = serializers.CharField(max_length=255, required=False, allow_null=True)
    device_type = serializers.CharField(max_length=255, required=False, allow_null=True)
    disk_bus = serializers.CharField(max_length=255, required=False, allow_null=True)
    no_device = serializers.JSONField(required=False, allow_null=True)
    virtual_name = serializers.CharField(max_length=255, required=False, allow_null=True)
    connection_info = serializers.CharField(max_length=16384, required=False, allow_null=True)
    tag = serializers.CharField(max_length=60, required=False)
    volume_type = serializers.CharField(max_length=255, required=False, allow_null=True)

    def validate_boot_index(self, value: Any) -> Any:
        return _bounded_scalar(value, "boot_index")

    def validate_volume_size(self, value: Any) -> Any:
        return _bounded_scalar(value, "volume_size")

    def validate_delete_on_termination(self, value: Any) -> Any:
        return _bounded_scalar(value, "delete_on_termination")

    def validate_no_device(self, value: Any) -> Any:
        return _bounded_scalar(value, "no_device")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Kept as the client wrote it (the service reads Nova's keys), now known to be bounded.
        super().to_internal_value(data)
        return dict(data)


def _bounded_scalar(value: Any, name: str) -> Any:
    """Nova takes these as numbers, booleans or their text; never objects or long strings."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str) and len(value) <= 255:
        return value
    raise serializers.ValidationError(f"{name} must be a number, a boolean or short text.")


class NetworkRequestItem(StrictSerializer):
    """One entry of a create request's ``networks`` list: a network, a port, or a network
    with a fixed IP; ``tag`` from 2.32 (the view refuses it earlier)."""

    uuid = StringField(max_length=255, required=False)
    port = serializers.UUIDField(required=False, allow_null=True, format="hex_verbose")
    fixed_ip = serializers.IPAddressField(required=False, allow_null=True)
    tag = StringField(max_length=60, required=False, allow_null=True)

    def validate_uuid(self, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise serializers.ValidationError(
                f"Bad networks format: network uuid is not in proper format ({value})"
            ) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("uuid") and not attrs.get("port"):
            raise serializers.ValidationError("A network entry needs a network uuid or a port.")
        return attrs


class NetworksField(serializers.Field):
    """``networks``: "auto", "none" (2.37) or a list of `NetworkRequestItem` (at most 64)."""

    def to_internal_value(self, data: Any) -> Any:
        if data in ("auto", "none"):
            return data
        if not isinstance(data, list):
            raise serializers.ValidationError('networks must be "auto", "none" or a list.')
        if len(data) > 64:
            raise serializers.ValidationError("networks may name at most 64 networks or ports.")
        items = NetworkRequestItem(data=data, many=True)
        items.is_valid(raise_exception=True)
        return list(items.validated_data)

    def to_representation(self, value: Any) -> Any:
        return value


class ServerCreateBody(StrictSerializer):
    name = NameField(max_length=255, trim_whitespace=False)
    imageRef = serializers.CharField(max_length=255, allow_blank=True, required=False)  # noqa: N815
    flavorRef = serializers.CharField(max_length=255)  # noqa: N815
    adminPass = serializers.CharField(max_length=255, required=False)  # noqa: N815
    metadata = MetadataField(required=False)
    networks = NetworksField(required=False)
    accessIPv4 = AccessIPField(version=4)  # noqa: N815
    accessIPv6 = AccessIPField(version=6)  # noqa: N815
    availability_zone = serializers.CharField(max_length=255, required=False)
    key_name = serializers.CharField(max_length=255, required=False, allow_null=True)
    user_data = serializers.CharField(required=False, allow_null=True, trim_whitespace=False)
    min_count = serializers.IntegerField(min_value=1, required=False, default=1)
    # Absent: as many as min_count (Nova's default).
    max_count = serializers.IntegerField(min_value=1, required=False)
    return_reservation_id = serializers.BooleanField(required=False, default=False)
    config_drive = serializers.JSONField(required=False)
    security_groups = SecurityGroupRef(many=True, required=False)
    block_device_mapping = serializers.ListField(
        child=BlockDeviceMapping(), required=False, max_length=64
    )
    block_device_mapping_v2 = serializers.ListField(
        child=BlockDeviceMapping(), required=False, max_length=64
    )
    description = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60, trim_whitespace=False),
        required=False,
        max_length=50,
    )
    hostname = serializers.CharField(max_length=255, required=False)
    # 2.74 (admins): a destination the filters still judge.
    host = StringField(max_length=255, required=False)
    hypervisor_hostname = StringField(max_length=255, required=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["OS-DCF:diskConfig"] = serializers.ChoiceField(
            choices=["AUTO", "MANUAL"], required=False
        )
        return fields

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("name must not be blank.")
        return value

    def validate_user_data(self, value: str | None) -> str | None:
        return None if value is None else _validate_user_data(value)

    def validate_config_drive(self, value: Any) -> bool:
        if value in ("", None, False, "false", "False"):
            return False
        if value in (True, "true", "True"):
            return True
        raise serializers.ValidationError("config_drive must be a boolean.")

    def validate_tags(self, value: list[str]) -> list[str]:
        for tag in value:
            if not TAG_RE.fullmatch(tag):
                raise serializers.ValidationError(f"Invalid tag {tag!r}.")
        return value


class ServerCreateSerializer(StrictSerializer):
    server = ServerCreateBody()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["OS-SCH-HNT:scheduler_hints"] = SchedulerHints(required=False)
        fields["os:scheduler_hints"] = SchedulerHints(required=False)
        return fields


class ServerUpdateBody(StrictSerializer):
    name = NameField(max_length=255, required=False)
    description = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    accessIPv4 = AccessIPField(version=4)  # noqa: N815
    accessIPv6 = AccessIPField(version=6)  # noqa: N815
    hostname = serializers.CharField(max_length=255, required=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["OS-DCF:diskConfig"] = serializers.ChoiceField(
            choices=["AUTO", "MANUAL"], required=False
        )
        return fields


class ServerUpdateSerializer(StrictSerializer):
    server = ServerUpdateBody()


class RebootBody(StrictSerializer):
    type = serializers.ChoiceField(choices=["SOFT", "HARD", "soft", "hard"])


class LockBody(StrictSerializer):
    locked_reason = serializers.CharField(max_length=255, required=False)


class ResizeBody(StrictSerializer):
    flavorRef = serializers.CharField(max_length=255)  # noqa: N815

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["OS-DCF:diskConfig"] = serializers.ChoiceField(
            choices=["AUTO", "MANUAL"], required=False
        )
        return fields


class CreateImageBody(StrictSerializer):
    name = serializers.CharField(max_length=255)
    metadata = MetadataField(required=False)


class ConsoleOutputBody(StrictSerializer):
    length = serializers.JSONField(required=False, allow_null=True)

    def validate_length(self, value: Any) -> int | None:
        if value is None:
            return None
        try:
            length = int(value)
        except (TypeError, ValueError):
            raise serializers.ValidationError("length must be an integer.") from None
        if length < -1:
            raise serializers.ValidationError("length must be -1 or a positive integer.")
        return None if length == -1 else length


class RebuildBody(StrictSerializer):
    imageRef = serializers.CharField(max_length=255)  # noqa: N815
    name = NameField(max_length=255, required=False)
    adminPass = serializers.CharField(max_length=255, required=False)  # noqa: N815
    metadata = MetadataField(required=False)
    accessIPv4 = AccessIPField(version=4)  # noqa: N815
    accessIPv6 = AccessIPField(version=6)  # noqa: N815
    preserve_ephemeral = serializers.BooleanField(required=False)
    description = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    key_name = serializers.CharField(max_length=255, required=False, allow_null=True)
    user_data = serializers.CharField(required=False, allow_null=True, trim_whitespace=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["OS-DCF:diskConfig"] = serializers.ChoiceField(
            choices=["AUTO", "MANUAL"], required=False
        )
        return fields

    def validate_user_data(self, value: str | None) -> str | None:
        return None if value is None else _validate_user_data(value)


class ResetStateBody(StrictSerializer):
    state = serializers.ChoiceField(choices=["active", "error"])


class MigrateBody(StrictSerializer):
    host = serializers.CharField(max_length=255, required=False, allow_null=True)


class MetadataBody(StrictSerializer):
    metadata = MetadataField()


class MetaItemBody(StrictSerializer):
    meta = MetadataField()

    def validate_meta(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) != 1:
            raise serializers.ValidationError("Request body contains too many items.")
        return value


class TagsBody(StrictSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60, trim_whitespace=False), max_length=50
    )

    def validate_tags(self, value: list[str]) -> list[str]:
        for tag in value:
            if not TAG_RE.fullmatch(tag):
                raise serializers.ValidationError(f"Invalid tag {tag!r}.")
        return value


# --- responses ----------------------------------------------------------------------------------
def _links(kind: str, ident: str) -> list[dict[str, str]]:
    base = settings.PUBLIC_URL
    return [
        {"rel": "self", "href": f"{base}/compute/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/compute/{kind}/{ident}"},
    ]


def server_summary(server: Any) -> dict[str, Any]:
    return {
        "id": str(server.uuid),
        "name": server.name,
        "links": _links("servers", str(server.uuid)),
    }


# The columns of Server that `server_detail` reads: `views.prefetched` fetches only these
# (and the RELATED_FIELDS), as named tuples.
DETAIL_COLUMNS = (
    "uuid",
    "name",
    "description",
    "project_id",
    "user_id",
    "flavor_id",
    "flavor",
    "vcpus",
    "memory_mb",
    "root_gb",
    "image_ref",
    "host",
    "node",
    "availability_zone",
    "requested_availability_zone",
    "vm_state",
    "task_state",
    "power_state",
    "progress",
    "hostname",
    "key_name",
    "user_data",
    "config_drive",
    "access_ip_v4",
    "access_ip_v6",
    "addresses",
    "locked",
    "locked_reason",
    "reservation_id",
    "launch_index",
)
# What `views.prefetched` annotates each row with, read by `server_detail`: the timestamps
# as the API shows them (api_created, api_updated: `iso`; api_launched_at, api_terminated_at:
# `iso_micro`; formatted by PostgreSQL), api_metadata_keys/api_metadata_values (parallel
# lists, by key), api_tags (by tag), api_fault (the latest fault: code, message, details,
# created as `iso` text; or None) and api_group_uuid (the server group's uuid, or None).
RELATED_FIELDS = (
    "api_created",
    "api_updated",
    "api_launched_at",
    "api_terminated_at",
    "api_metadata_keys",
    "api_metadata_values",
    "api_tags",
    "api_fault",
    "api_group_uuid",
    "api_volume_ids",
    "api_volume_dots",
)

# Statuses whose body shows "progress" (Nova's); other statuses leave the key out.
PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)

# host_id is a pure function of (project, host); a page repeats few pairs.
_host_id = functools.lru_cache(maxsize=4096)(host_id)


def shows_user_data(version: APIVersion, context: Any) -> bool:
    """Whether a server body for `context` at `version` carries OS-EXT-SRV-ATTR:user_data."""
    return bool(context.is_admin) and version >= (2, 3)


def _flavor_view(server: Any, version: tuple[int, int], base: str) -> dict[str, Any]:
    flavor = server.flavor or {}
    if version >= (2, 47):
        return {
            "vcpus": flavor.get("vcpus", server.vcpus),
            "ram": flavor.get("ram", server.memory_mb),
            "disk": flavor.get("disk", server.root_gb),
            "ephemeral": flavor.get("ephemeral", 0),
            "swap": flavor.get("swap", 0),
            "original_name": flavor.get("name", ""),
            "extra_specs": flavor.get("extra_specs", {}),
        }
    return {
        "id": server.flavor_id,
        "links": [{"rel": "bookmark", "href": f"{base}/compute/flavors/{server.flavor_id}"}],
    }


def _fault_view(fault: dict[str, Any] | None, is_admin: bool) -> dict[str, Any] | None:
    if fault is None:
        return None
    body: dict[str, Any] = {
        "code": fault["code"],
        "created": fault["created"],
        "message": fault["message"],
    }
    # The details (the error's full text and trace: host names, paths) go to those
    # `faults.shows_details` lets see them; empty details are left out.
    if fault["details"] and shows_details(code=fault["code"], is_admin=is_admin):
        body["details"] = fault["details"]
    return body


def server_detail(
    server: Any,
    version: APIVersion,
    *,
    is_admin: bool,
    host_up: bool | None = None,
    listed: bool = False,
    addresses: dict[str, Any] | None = None,
    security_groups: list[str] | None = None,
) -> dict[str, Any]:
    """Nova's server body for a row of `views.prefetched` (DETAIL_COLUMNS and RELATED_FIELDS).

    `addresses`: the server's ports' addresses as the network service has them (views read
    them for a whole page at once); None: none. `security_groups`: the names of the groups
    on its ports, read the same way; none (no port, or every group removed): the key is left
    out, as Nova leaves it.

    `listed`: the body is an item of /servers/detail, which has no server_groups (2.71 added
    them to GET /servers/{id}, update and rebuild only).

    Called once per row of a page of up to 1000: keep per-row work to plain dict building
    (the version as a tuple, the public URL read once, timestamps formatted by the database).
    """
    v = (version.major, version.minor)
    base = settings.PUBLIC_URL
    uuid = str(server.uuid)
    status = api_status(server.vm_state, server.task_state)
    image_ref = server.image_ref
    body: dict[str, Any] = {
        "id": uuid,
        "name": server.name,
        "status": status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(zip(server.api_metadata_keys, server.api_metadata_values, strict=True)),
        "hostId": _host_id(server.project_id, server.host),
        "image": {
            "id": image_ref,
            "links": [{"rel": "bookmark", "href": f"{base}/compute/images/{image_ref}"}],
        }
        if image_ref
        else "",
        "flavor": _flavor_view(server, v, base),
        "created": server.api_created,
        "updated": server.api_updated,
        "addresses": addresses or {},
        "accessIPv4": server.access_ip_v4 or "",
        "accessIPv6": server.access_ip_v6 or "",
        "links": [
            {"rel": "self", "href": f"{base}/compute/v2.1/servers/{uuid}"},
            {"rel": "bookmark", "href": f"{base}/compute/servers/{uuid}"},
        ],
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server.availability_zone or "",
        "config_drive": "True" if server.config_drive else "",
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": server.api_launched_at,
        "OS-SRV-USG:terminated_at": server.api_terminated_at,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:power_state": server.power_state,
        "os-extended-volumes:volumes_attached": [
            {"id": str(volume_id), "delete_on_termination": dot}
            if v >= (2, 3)
            else {"id": str(volume_id)}
            for volume_id, dot in zip(server.api_volume_ids, server.api_volume_dots, strict=True)
        ],
    }
    if security_groups:
        body["security_groups"] = [{"name": name} for name in security_groups]
    if status in PROGRESS_STATUSES:
        body["progress"] = server.progress
    if status in ("ERROR", "DELETED"):
        fault = _fault_view(server.api_fault, is_admin)
        if fault is not None:
            body["fault"] = fault
    if is_admin:
        body["OS-EXT-SRV-ATTR:host"] = server.host
        body["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{uuid}"
        body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server.node
        if v >= (2, 3):
            body["OS-EXT-SRV-ATTR:reservation_id"] = server.reservation_id
            body["OS-EXT-SRV-ATTR:launch_index"] = server.launch_index
            body["OS-EXT-SRV-ATTR:hostname"] = server.hostname
            body["OS-EXT-SRV-ATTR:kernel_id"] = ""
            body["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
            body["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
            body["OS-EXT-SRV-ATTR:user_data"] = server.user_data
    elif v >= (2, 90):
        body["OS-EXT-SRV-ATTR:hostname"] = server.hostname
    if v >= (2, 9):
        body["locked"] = server.locked
    if v >= (2, 73):
        body["locked_reason"] = server.locked_reason
    if v >= (2, 16) and is_admin and host_up is not None:
        body["host_status"] = _host_status(server, host_up)
    if v >= (2, 19):
        body["description"] = server.description
    if v >= (2, 26):
        body["tags"] = server.api_tags
    if v >= (2, 63):
        body["trusted_image_certificates"] = None  # certificate validation is not offered
    if v >= (2, 71) and not listed:
        group = server.api_group_uuid
        body["server_groups"] = [str(group)] if group else []
    if v >= (2, 96):
        body["pinned_availability_zone"] = server.requested_availability_zone
    return body


# What GET shows and, before 2.75, the answers of PUT /servers/{id} and of rebuild leave out.
_EXTENDED_KEYS = frozenset(
    {
        "OS-EXT-AZ:availability_zone",
        "config_drive",
        "key_name",
        "OS-SRV-USG:launched_at",
        "OS-SRV-USG:terminated_at",
        "OS-EXT-STS:task_state",
        "OS-EXT-STS:vm_state",
        "OS-EXT-STS:power_state",
        "os-extended-volumes:volumes_attached",
        "security_groups",
        "host_status",
    }
)


def written_server_view(
    detail: dict[str, Any],
    version: APIVersion,
    *,
    rebuild: bool = False,
    user_data: str | None = None,
) -> dict[str, Any]:
    """The server body that answers an update (PUT) or a rebuild (with the new `user_data`).

    Up to 2.74 it is the basic body without the extended attributes, its addresses only
    ``version`` and ``addr`` (Nova's extend_address=False); from 2.75 it is GET's body. A
    rebuild answer also carries key_name (2.54) and user_data (2.57), top-level and never as
    OS-EXT-SRV-ATTR:user_data.
    """
    v = (version.major, version.minor)
    body = dict(detail)
    if v < (2, 75):
        body = {
            k: value
            for k, value in body.items()
            if k not in _EXTENDED_KEYS and not k.startswith("OS-EXT-SRV-ATTR:")
        }
        body["addresses"] = {
            name: [{"version": a["version"], "addr": a["addr"]} for a in items]
            for name, items in detail["addresses"].items()
        }
        if rebuild and v >= (2, 54):
            body["key_name"] = detail["key_name"]
    if rebuild:
        body.pop("OS-EXT-SRV-ATTR:user_data", None)
        if v >= (2, 57):
            body["user_data"] = user_data
    return body


def _host_status(server: Any, host_up: bool) -> str:
    if not server.host:
        return ""
    return "UP" if host_up else "DOWN"


def action_view(
    action: InstanceAction,
    version: APIVersion,
    *,
    events: bool,
    full_events: bool = False,
    event_details: bool = False,
) -> dict[str, Any]:
    """An instance action; with `events`, its steps. `full_events` (the events policy: admins
    by default) adds each step's traceback, and its host from 2.62; everyone sees the hashed
    hostId from 2.62; `event_details` (the events:details policy, from 2.84) adds each
    step's details (Nova's rules)."""
    body: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": str(action.server.uuid),
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": iso_micro(action.start_time),
        "message": action.message,
    }
    if version >= (2, 58):
        body["updated_at"] = iso_micro(action.updated_at)
    if events:
        body["events"] = [
            {
                "event": e.event,
                "start_time": iso_micro(e.start_time),
                "finish_time": iso_micro(e.finish_time),
                "result": e.result,
                **({"traceback": e.traceback} if full_events else {}),
                **({"host": e.host} if full_events and version >= (2, 62) else {}),
                **(
                    {"hostId": host_id(action.project_id or "", e.host)}
                    if version >= (2, 62)
                    else {}
                ),
                **({"details": e.details} if event_details else {}),
            }
            for e in action.events.all()
        ]
    return body

"""os-quota-sets update bodies by microversion, and quota-set and limits shapes.

The resources shown and settable follow Nova: the nova-network ones go at 2.36, the
injected-file ones at 2.57. Values are integers or integer strings from -1 (unlimited) to
2**31-1; ``force`` skips the "not below current usage" check.
"""

import re
from typing import Any

from rest_framework import serializers

from apps.quotas.choices import INJECTED_FILE_RESOURCES, NETWORK_RESOURCES, QuotaResource
from apps.quotas.services import MAX_LIMIT
from computecloud.api.microversions import APIVersion
from computecloud.api.serializers import StrictSerializer

_INTEGER = re.compile(r"^-?[0-9]+$")


def shown_resources(version: APIVersion) -> list[str]:
    """The resources os-quota-sets shows (and accepts) at this microversion."""
    hidden: set[str] = set()
    if version >= (2, 36):
        hidden.update(NETWORK_RESOURCES)
    if version >= (2, 57):
        hidden.update(INJECTED_FILE_RESOURCES)
    return [r for r in QuotaResource.values if r not in hidden]


class QuotaValueField(serializers.Field):
    """Nova's ``_common_quota``: an integer, or a string of one, in [-1, 2**31-1]."""

    default_error_messages = {
        "invalid": "must be an integer (or a string of one).",
        "range": f"must be between -1 and {MAX_LIMIT}.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            value = data
        elif isinstance(data, str) and _INTEGER.match(data):
            value = int(data)
        else:
            self.fail("invalid")
        if not -1 <= value <= MAX_LIMIT:
            self.fail("range")
        return value

    def to_representation(self, value: int) -> int:
        return value


def update_serializer(version: APIVersion, data: Any) -> serializers.Serializer:
    fields: dict[str, serializers.Field] = {
        name: QuotaValueField(required=False) for name in shown_resources(version)
    }
    fields["force"] = serializers.BooleanField(required=False, default=False)
    inner = type("QuotaSetBody", (StrictSerializer,), fields)
    outer = type("QuotaSetUpdateRequest", (StrictSerializer,), {"quota_set": inner()})
    return outer(data=data)


def quota_set(
    values: dict[str, Any], version: APIVersion, project_id: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if project_id is not None:
        body["id"] = project_id
    for resource in shown_resources(version):
        body[resource] = values[resource]
    return {"quota_set": body}


# Nova's limits view: quota resource → absolute limit names, and the usage totals.
LIMIT_NAMES = {
    "ram": ["maxTotalRAMSize"],
    "instances": ["maxTotalInstances"],
    "cores": ["maxTotalCores"],
    "key_pairs": ["maxTotalKeypairs"],
    "floating_ips": ["maxTotalFloatingIps"],
    "metadata_items": ["maxServerMeta", "maxImageMeta"],
    "injected_files": ["maxPersonality"],
    "injected_file_content_bytes": ["maxPersonalitySize"],
    "security_groups": ["maxSecurityGroups"],
    "security_group_rules": ["maxSecurityGroupRules"],
    "server_groups": ["maxServerGroups"],
    "server_group_members": ["maxServerGroupMembers"],
}
USED_NAMES = {
    "totalRAMUsed": "ram",
    "totalCoresUsed": "cores",
    "totalInstancesUsed": "instances",
    "totalFloatingIpsUsed": "floating_ips",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}


def absolute_limits(
    limits: dict[str, int], usage: dict[str, int], version: APIVersion
) -> dict[str, int]:
    """Nova's ``limits.absolute``: 2.36 drops the network ones, 2.39 ``maxImageMeta``, 2.57
    the personality ones."""
    filtered: set[str] = set()
    if version >= (2, 36):
        filtered.update(("floating_ips", "security_groups", "security_group_rules"))
    if version >= (2, 57):
        filtered.update(("injected_files", "injected_file_content_bytes"))
    absolute: dict[str, int] = {}
    for resource, names in LIMIT_NAMES.items():
        if resource in filtered:
            continue
        for name in names:
            if name == "maxImageMeta" and version >= (2, 39):
                continue
            absolute[name] = limits[resource]
    for name, resource in USED_NAMES.items():
        if resource not in filtered:
            absolute[name] = usage[resource]
    return absolute

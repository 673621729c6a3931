"""Admin host resources' request serializers and response presenters (os-services, os-hosts,
os-hypervisors, os-aggregates): plain functions from records to Nova's bodies, microversion by
microversion."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from apps.hosts.choices import (
    API_BINARY_NAMES,
    COMPUTE_BINARY,
    CONDUCTOR_BINARY,
    DEFAULT_AVAILABILITY_ZONE,
    SCHEDULER_BINARY,
)
from apps.hosts.models import Aggregate, ComputeNode, Service
from computecloud.api.serializers import StrictSerializer
from computecloud.api.timeformat import iso_micro


# --- requests -----------------------------------------------------------------------------------
class ServiceUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=["enabled", "disabled"], required=False)
    disabled_reason = serializers.CharField(max_length=255, required=False)
    forced_down = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Nothing to update.")
        if "disabled_reason" in attrs and attrs.get("status") != "disabled":
            raise serializers.ValidationError(
                "Specifying 'disabled_reason' with status 'enabled' is invalid."
            )
        return attrs


class HostUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=["enable", "disable"], required=False)
    maintenance_mode = serializers.ChoiceField(choices=["enable", "disable"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("'status' or 'maintenance_mode' is needed.")
        return attrs


class AggregateBody(StrictSerializer):
    name = serializers.CharField(max_length=255)
    availability_zone = serializers.CharField(max_length=255, required=False, allow_null=True)


class AggregateCreateSerializer(StrictSerializer):
    aggregate = AggregateBody()


class AggregateUpdateBody(StrictSerializer):
    name = serializers.CharField(max_length=255, required=False)
    availability_zone = serializers.CharField(max_length=255, required=False, allow_null=True)


class AggregateUpdateSerializer(StrictSerializer):
    aggregate = AggregateUpdateBody()


class HostArg(StrictSerializer):
    host = serializers.CharField(max_length=255)


class MetadataArg(StrictSerializer):
    metadata = serializers.DictField(child=serializers.CharField(allow_null=True, max_length=255))


class AggregateActionSerializer(StrictSerializer):
    add_host = HostArg(required=False)
    remove_host = HostArg(required=False)
    set_metadata = MetadataArg(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs) != 1:
            raise serializers.ValidationError("Exactly one action is expected.")
        return attrs


# --- responses ----------------------------------------------------------------------------------
# The service column of an os-hosts row: Nova's service topics.
HOST_SERVICE_TOPICS = {
    COMPUTE_BINARY: "compute",
    CONDUCTOR_BINARY: "conductor",
    SCHEDULER_BINARY: "scheduler",
}


def service_view(svc: Service, version: Any, zones: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(svc.uuid) if version >= (2, 53) else svc.pk,
        "binary": API_BINARY_NAMES.get(svc.binary, svc.binary),
        "host": svc.host,
        "zone": zones.get(svc.host, DEFAULT_AVAILABILITY_ZONE)
        if svc.binary == COMPUTE_BINARY
        else "internal",
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if svc.is_up else "down",
        "updated_at": iso_micro(svc.last_seen_up or svc.updated_at),
        "disabled_reason": svc.disabled_reason or None,
    }
    if version >= (2, 11):
        body["forced_down"] = svc.forced_down
    return body


def hypervisor_view(
    node: ComputeNode,
    version: Any,
    *,
    detail: bool,
    usage: dict[str, dict[str, int]],
    vms: dict[str, int],
) -> dict[str, Any]:
    svc = node.service
    body: dict[str, Any] = {
        "id": str(node.uuid) if version >= (2, 53) else node.pk,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if svc.is_up else "down",
        "status": "disabled" if svc.disabled else "enabled",
    }
    if not detail:
        return body
    used = usage.get(node.host, {})
    body.update(
        {
            "host_ip": node.host_ip,
            "hypervisor_type": node.hypervisor_type,
            "hypervisor_version": node.hypervisor_version,
            "service": {
                "host": node.host,
                "id": str(svc.uuid) if version >= (2, 53) else svc.pk,
                "disabled_reason": svc.disabled_reason or None,
            },
        }
    )
    if version < (2, 88):
        memory_used = used.get("MEMORY_MB", 0)
        disk_used = used.get("DISK_GB", 0)
        body.update(
            {
                "vcpus": node.vcpus,
                "memory_mb": node.memory_mb,
                "local_gb": node.local_gb,
                "vcpus_used": used.get("VCPU", 0),
                "memory_mb_used": memory_used,
                "local_gb_used": disk_used,
                "free_ram_mb": node.memory_mb - memory_used,
                "free_disk_gb": node.local_gb - disk_used,
                "current_workload": 0,
                "running_vms": vms.get(node.host, 0),
                "disk_available_least": node.local_gb - disk_used,
                # A JSON document in a string until 2.28, an object since.
                "cpu_info": node.cpu_info
                if version >= (2, 28)
                else json.dumps(node.cpu_info or {}),
            }
        )
    else:
        body["uptime"] = None
    return body


def aggregate_view(agg: Aggregate, version: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": agg.pk,
        "name": agg.name,
        "availability_zone": agg.availability_zone,
        "hosts": sorted(h.host for h in agg.hosts.all()),
        "metadata": agg.metadata,
        "created_at": iso_micro(agg.created_at),
        "updated_at": iso_micro(agg.updated_at),
        "deleted": False,
        "deleted_at": None,
    }
    if version >= (2, 41):
        body["uuid"] = str(agg.uuid)
    return body

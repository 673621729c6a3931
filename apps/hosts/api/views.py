"""Admin host resources: os-services, os-hosts (2.1-2.42), os-hypervisors, os-availability-zone,
os-aggregates. What runs on a host and what is allocated there come from the servers and
placement (an API module may call any app's services; the hosts app itself sits below them)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.hosts import services
from apps.hosts.api.serializers import (
    HOST_SERVICE_TOPICS,
    AggregateActionSerializer,
    AggregateCreateSerializer,
    AggregateUpdateSerializer,
    HostUpdateSerializer,
    ServiceUpdateSerializer,
    aggregate_view,
    hypervisor_view,
    service_view,
)
from apps.hosts.api.usage import hypervisor_statistics
from apps.hosts.choices import API_BINARY_NAMES, COMPUTE_BINARY, DEFAULT_AVAILABILITY_ZONE
from apps.hosts.models import Aggregate, ComputeNode, Service
from apps.identity.policy import authorize
from apps.placement import services as placement_services
from apps.servers import services as server_services
from computecloud.api.microversions import MicroversionedMixin
from computecloud.api.timeformat import iso_micro
from computecloud.exceptions import FeatureNotImplemented, InvalidInput, NotFound


# --- os-services --------------------------------------------------------------------------------
class ServiceViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-services:list",
        "update": "os_compute_api:os-services:update",
        "destroy": "os_compute_api:os-services:delete",
    }

    def list(self, request: Request) -> Response:
        queryset = Service.objects.all()
        if host := request.query_params.get("host"):
            queryset = queryset.filter(host=host)
        if binary := request.query_params.get("binary"):
            ours = {api: own for own, api in API_BINARY_NAMES.items()}
            queryset = queryset.filter(binary=ours.get(binary, binary))
        zones = services.zones_by_host()
        return Response({"services": [service_view(s, request.version, zones) for s in queryset]})

    def _get(self, pk: str) -> Service:
        try:
            found = Service.objects.filter(uuid=uuid.UUID(pk)).first()
        except ValueError:
            found = None
        if found is None:
            raise NotFound(f"Service {pk} could not be found.")
        return found

    def update(self, request: Request, pk: str) -> Response:
        if request.version < (2, 53):
            raise NotFound("Use the /os-services/enable, disable or force-down actions.")
        serializer = ServiceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = services.set_service_status(
            service=self._get(pk),
            disabled=None if "status" not in data else data["status"] == "disabled",
            reason=data.get("disabled_reason"),
            forced_down=data.get("forced_down"),
        )
        return Response(
            {"service": service_view(service, request.version, services.zones_by_host())}
        )

    def destroy(self, request: Request, pk: str) -> Response:
        service = self._get(pk)
        services.delete_service(
            service=service,
            instances_on_host=server_services.running_vms().get(service.host, 0),
        )
        return Response(status=204)


# --- os-hypervisors -----------------------------------------------------------------------------
class HypervisorViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-hypervisors:list",
        "list_detail": "os_compute_api:os-hypervisors:list-detail",
        "retrieve": "os_compute_api:os-hypervisors:show",
        "statistics": "os_compute_api:os-hypervisors:statistics",
        "search": "os_compute_api:os-hypervisors:search",
        "servers": "os_compute_api:os-hypervisors:servers",
        "uptime": "os_compute_api:os-hypervisors:uptime",
    }

    def _nodes(self, request: Request) -> Any:
        queryset = ComputeNode.objects.select_related("service")
        if pattern := request.query_params.get("hypervisor_hostname_pattern"):
            queryset = queryset.filter(hypervisor_hostname__icontains=pattern)
        return queryset

    def _render(self, request: Request, *, detail: bool) -> Response:
        usage, vms = (
            (placement_services.usage_by_host(), server_services.running_vms())
            if detail
            else ({}, {})
        )
        nodes = [
            hypervisor_view(n, request.version, detail=detail, usage=usage, vms=vms)
            for n in self._nodes(request)
        ]
        return Response({"hypervisors": nodes})

    def list(self, request: Request) -> Response:
        return self._render(request, detail=False)

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        return self._render(request, detail=True)

    def _node(self, pk: str) -> ComputeNode:
        query = Q(uuid=pk) if _is_uuid(pk) else Q(pk=int(pk) if pk.isdigit() else -1)
        node = ComputeNode.objects.select_related("service").filter(query).first()
        if node is None:
            raise NotFound(f"Hypervisor {pk} could not be found.")
        return node

    def retrieve(self, request: Request, pk: str) -> Response:
        node = self._node(pk)
        body = hypervisor_view(
            node,
            request.version,
            detail=True,
            usage=placement_services.usage_by_host(),
            vms=server_services.running_vms(),
        )
        return Response({"hypervisor": body})

    def _matching(self, request: Request, pattern: str) -> list[ComputeNode]:
        """Hypervisors whose host name contains `pattern` (2.1-2.52; a 404 when none)."""
        if request.version >= (2, 53):
            raise NotFound(
                "Removed in microversion 2.53: use ?hypervisor_hostname_pattern= "
                "(and with_servers=true)."
            )
        nodes = list(
            ComputeNode.objects.select_related("service").filter(
                hypervisor_hostname__icontains=pattern
            )
        )
        if not nodes:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return nodes

    @action(detail=True, methods=["get"], url_path="search")
    def search(self, request: Request, pk: str) -> Response:
        nodes = self._matching(request, pk)
        body = [hypervisor_view(n, request.version, detail=False, usage={}, vms={}) for n in nodes]
        return Response({"hypervisors": body})

    @action(detail=True, methods=["get"], url_path="servers")
    def servers(self, request: Request, pk: str) -> Response:
        nodes = self._matching(request, pk)
        by_host = server_services.servers_on_hosts({n.host for n in nodes})
        body = []
        for node in nodes:
            view = hypervisor_view(node, request.version, detail=False, usage={}, vms={})
            if by_host.get(node.host):  # Nova leaves the key out for an empty hypervisor
                view["servers"] = by_host[node.host]
            body.append(view)
        return Response({"hypervisors": body})

    @action(detail=True, methods=["get"], url_path="uptime")
    def uptime(self, request: Request, pk: str) -> Response:
        """2.1-2.87: the host's ``uptime`` line. Compute hosts do not report it, which Nova
        answers, for a driver without it, with a 501."""
        if request.version >= (2, 88):
            raise NotFound("Removed in microversion 2.88: the hypervisor shows its uptime.")
        self._node(pk)
        raise FeatureNotImplemented(reason="hypervisor uptime is not reported by hosts.")

    @action(detail=False, methods=["get"], url_path="statistics")
    def statistics(self, request: Request) -> Response:
        if request.version >= (2, 88):
            raise NotFound("The statistics API was removed in microversion 2.88.")
        stats = hypervisor_statistics()
        return Response({"hypervisor_statistics": stats})


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- os-hosts (2.1-2.42) ------------------------------------------------------------------------
class HostViewSet(MicroversionedMixin, viewsets.ViewSet):
    """The deprecated os-hosts API (removed in 2.43; os-services and os-hypervisors replace
    it): hosts and their services, a compute host's resources, enable/disable. Host power
    actions and maintenance mode are not offered (501, as Nova's libvirt driver answers)."""

    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-hosts:list",
        "retrieve": "os_compute_api:os-hosts:show",
        "update": "os_compute_api:os-hosts:update",
        "reboot": "os_compute_api:os-hosts:reboot",
        "shutdown": "os_compute_api:os-hosts:shutdown",
        "startup": "os_compute_api:os-hosts:start",
    }

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.version >= (2, 43):
            raise NotFound("os-hosts was removed in microversion 2.43.")

    def _compute(self, host: str) -> Service:
        service = Service.objects.filter(host=host, binary=COMPUTE_BINARY).first()
        if service is None:
            raise NotFound(f"Compute host {host} could not be found.")
        return service

    def list(self, request: Request) -> Response:
        zones = services.zones_by_host()
        rows = []
        for svc in Service.objects.order_by("host", "binary"):
            compute = svc.binary == COMPUTE_BINARY
            zone = zones.get(svc.host, DEFAULT_AVAILABILITY_ZONE) if compute else "internal"
            rows.append(
                {
                    "host_name": svc.host,
                    "service": HOST_SERVICE_TOPICS.get(svc.binary, svc.binary),
                    "zone": zone,
                }
            )
        if zone := request.query_params.get("zone"):  # a blank zone filters nothing
            rows = [r for r in rows if r["zone"] == zone]
        return Response({"hosts": rows})

    def retrieve(self, request: Request, pk: str) -> Response:
        self._compute(pk)
        node = ComputeNode.objects.filter(host=pk).first()
        used = placement_services.usage_by_host().get(pk, {})

        def resource(project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
            return {
                "resource": {
                    "host": pk,
                    "project": project,
                    "cpu": cpu,
                    "memory_mb": memory_mb,
                    "disk_gb": disk_gb,
                }
            }

        per_project = server_services.usage_by_project_on(pk)
        rows = [
            resource(
                "(total)",
                node.vcpus if node else 0,
                node.memory_mb if node else 0,
                node.local_gb if node else 0,
            ),
            resource(
                "(used_now)",
                used.get("VCPU", 0),
                used.get("MEMORY_MB", 0),
                used.get("DISK_GB", 0),
            ),
            resource(
                "(used_max)",
                sum(p["cpu"] for p in per_project),
                sum(p["memory_mb"] for p in per_project),
                sum(p["disk_gb"] for p in per_project),
            ),
            *(
                resource(p["project_id"], p["cpu"], p["memory_mb"], p["disk_gb"])
                for p in per_project
            ),
        ]
        return Response({"host": rows})

    def update(self, request: Request, pk: str) -> Response:
        serializer = HostUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = self._compute(pk)
        if "maintenance_mode" in data:
            raise FeatureNotImplemented(reason="maintenance mode is not supported.")
        service = services.set_service_status(service=service, disabled=data["status"] == "disable")
        return Response({"host": pk, "status": "disabled" if service.disabled else "enabled"})

    def _power_action(self, pk: str) -> Response:
        self._compute(pk)
        raise FeatureNotImplemented(reason="host power actions are not supported.")

    @action(detail=True, methods=["get"], url_path="reboot")
    def reboot(self, request: Request, pk: str) -> Response:
        return self._power_action(pk)

    @action(detail=True, methods=["get"], url_path="shutdown")
    def shutdown(self, request: Request, pk: str) -> Response:
        return self._power_action(pk)

    @action(detail=True, methods=["get"], url_path="startup")
    def startup(self, request: Request, pk: str) -> Response:
        return self._power_action(pk)


# --- os-availability-zone -----------------------------------------------------------------------
class AvailabilityZoneViewSet(MicroversionedMixin, viewsets.ViewSet):
    policy_actions = {
        "list": "os_compute_api:os-availability-zone:list",
        "list_detail": "os_compute_api:os-availability-zone:detail",
    }

    def _zones(self) -> dict[str, list[Service]]:
        zones_by_host = services.zones_by_host()
        result: dict[str, list[Service]] = {}
        for svc in Service.objects.filter(binary=COMPUTE_BINARY):
            zone = zones_by_host.get(svc.host, DEFAULT_AVAILABILITY_ZONE)
            result.setdefault(zone, []).append(svc)
        return result

    def list(self, request: Request) -> Response:
        info = [
            {
                "zoneName": zone,
                "zoneState": {"available": any(s.is_up and not s.disabled for s in svcs)},
                "hosts": None,
            }
            for zone, svcs in sorted(self._zones().items())
        ]
        return Response({"availabilityZoneInfo": info})

    @action(detail=False, methods=["get"], url_path="detail")
    def list_detail(self, request: Request) -> Response:
        info = []
        for zone, svcs in sorted(self._zones().items()):
            hosts = {
                s.host: {
                    s.binary: {
                        "available": s.is_up,
                        "active": not s.disabled,
                        "updated_at": iso_micro(s.last_seen_up),
                    }
                }
                for s in svcs
            }
            info.append(
                {
                    "zoneName": zone,
                    "zoneState": {"available": any(s.is_up and not s.disabled for s in svcs)},
                    "hosts": hosts,
                }
            )
        return Response({"availabilityZoneInfo": info})


# --- os-aggregates ------------------------------------------------------------------------------
class AggregateViewSet(MicroversionedMixin, viewsets.ViewSet):
    lookup_value_regex = "[^/]+"
    policy_actions = {
        "list": "os_compute_api:os-aggregates:index",
        "create": "os_compute_api:os-aggregates:create",
        "retrieve": "os_compute_api:os-aggregates:show",
        "update": "os_compute_api:os-aggregates:update",
        "destroy": "os_compute_api:os-aggregates:delete",
        "aggregate_action": "os_compute_api:os-aggregates:index",
    }

    def _get(self, pk: str) -> Aggregate:
        agg = Aggregate.objects.filter(pk=int(pk) if pk.isdigit() else -1).first()
        if agg is None:
            raise NotFound(f"Aggregate {pk} could not be found.")
        return agg

    def list(self, request: Request) -> Response:
        aggs = Aggregate.objects.prefetch_related("hosts")
        return Response({"aggregates": [aggregate_view(a, request.version) for a in aggs]})

    def create(self, request: Request) -> Response:
        serializer = AggregateCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["aggregate"]
        agg = services.create_aggregate(
            name=data["name"], availability_zone=data.get("availability_zone")
        )
        body = aggregate_view(agg, request.version)
        # Nova's create answer leaves out hosts and metadata (both empty at birth).
        del body["hosts"], body["metadata"]
        return Response({"aggregate": body})

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"aggregate": aggregate_view(self._get(pk), request.version)})

    def update(self, request: Request, pk: str) -> Response:
        serializer = AggregateUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data["aggregate"]
        if not data:
            raise InvalidInput("Nothing to update.")
        agg = services.update_aggregate(
            aggregate=self._get(pk),
            name=data.get("name"),
            availability_zone=data.get("availability_zone"),
        )
        return Response({"aggregate": aggregate_view(agg, request.version)})

    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_aggregate(aggregate=self._get(pk))
        return Response(status=200)

    @action(detail=True, methods=["post"], url_path="action")
    def aggregate_action(self, request: Request, pk: str) -> Response:
        serializer = AggregateActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        agg = self._get(pk)
        if "add_host" in data:
            authorize(request.auth, "os_compute_api:os-aggregates:add_host")
            agg = services.add_aggregate_host(aggregate=agg, host=data["add_host"]["host"])
        elif "remove_host" in data:
            authorize(request.auth, "os_compute_api:os-aggregates:remove_host")
            agg = services.remove_aggregate_host(aggregate=agg, host=data["remove_host"]["host"])
        else:
            authorize(request.auth, "os_compute_api:os-aggregates:set_metadata")
            agg = services.set_aggregate_metadata(
                aggregate=agg, metadata=data["set_metadata"]["metadata"]
            )
        return Response({"aggregate": aggregate_view(agg, request.version)})

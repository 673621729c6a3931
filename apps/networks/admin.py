"""Operators' view of networks, subnets, ports, security groups, routers, floating IPs and
hosts' tunnel endpoints: read-only. Every change goes through the network API, whose services
keep the addresses, VNIs and bindings consistent; a page that edited a column would not."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.networks.models import (
    FloatingIP,
    HostTunnel,
    Network,
    Port,
    Router,
    SecurityGroup,
    Subnet,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Network)
class NetworkAdmin(ReadOnlyAdmin):
    list_display = [
        "name", "id", "project", "network_type", "segmentation_id", "physical_network",
        "shared", "router_external", "mtu",
    ]  # fmt: skip
    list_filter = ["network_type", "shared", "router_external"]
    search_fields = ["name", "id", "project__name"]
    list_select_related = ["project"]


@admin.register(Subnet)
class SubnetAdmin(ReadOnlyAdmin):
    list_display = ["name", "id", "cidr", "gateway_ip", "network", "project", "enable_dhcp"]
    search_fields = ["name", "id", "cidr"]
    list_select_related = ["network", "project"]


@admin.register(Port)
class PortAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "name", "network", "mac_address", "status", "device_owner", "device_id",
        "binding_host_id",
    ]  # fmt: skip
    list_filter = ["status", "device_owner"]
    search_fields = ["id", "name", "mac_address", "device_id", "binding_host_id"]
    list_select_related = ["network"]


@admin.register(SecurityGroup)
class SecurityGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "id", "project", "is_default"]
    search_fields = ["name", "id", "project__name"]
    list_select_related = ["project"]


@admin.register(Router)
class RouterAdmin(ReadOnlyAdmin):
    list_display = ["name", "id", "project", "external_network", "enable_snat"]
    search_fields = ["name", "id"]
    list_select_related = ["project", "external_network"]


@admin.register(FloatingIP)
class FloatingIPAdmin(ReadOnlyAdmin):
    list_display = ["floating_ip_address", "id", "project", "fixed_ip_address", "port", "status"]
    search_fields = ["floating_ip_address", "fixed_ip_address", "id"]
    list_select_related = ["project"]


@admin.register(HostTunnel)
class HostTunnelAdmin(ReadOnlyAdmin):
    list_display = ["host", "tunnel_ip", "updated_at"]
    search_fields = ["host", "tunnel_ip"]

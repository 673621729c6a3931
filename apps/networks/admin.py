"""Operators' view of networks, subnets, ports, security groups, routers, floating IPs and
hosts' tunnel endpoints: read-only. Every change goes through the network API, whose services
keep the addresses, VNIs and bindings consistent; a page that edited a column would not."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.networks.models import (
    FloatingIP,
    HostTunnel,
    IPAllocation,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields or [])

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FixedIPInline(ReadOnlyInline):
    model = IPAllocation
    fields = ["ip_address", "subnet"]


class RuleInline(ReadOnlyInline):
    model = SecurityGroupRule
    fk_name = "security_group"
    fields = [
        "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
        "remote_ip_prefix", "remote_group",
    ]  # fmt: skip


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
    search_fields = [
        "id", "name", "mac_address", "device_id", "binding_host_id", "fixed_ips__ip_address",
    ]  # fmt: skip
    list_select_related = ["network"]
    inlines = [FixedIPInline]


@admin.register(SecurityGroup)
class SecurityGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "id", "project", "is_default"]
    search_fields = ["name", "id", "project__name"]
    list_select_related = ["project"]
    inlines = [RuleInline]


@admin.register(SecurityGroupRule)
class SecurityGroupRuleAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "security_group", "direction", "ethertype", "protocol", "port_range_min",
        "port_range_max", "remote_ip_prefix", "remote_group",
    ]  # fmt: skip
    list_filter = ["direction", "ethertype", "protocol"]
    search_fields = ["id", "security_group__name", "security_group__id", "remote_ip_prefix"]
    list_select_related = ["security_group", "remote_group"]


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

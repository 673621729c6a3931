"""Operators' view of hosts: services (liveness is derived, shown read-only), nodes, aggregates."""

from django.contrib import admin

from apps.hosts.models import Aggregate, AggregateHost, ComputeNode, Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["host", "binary", "disabled", "forced_down", "is_up", "last_seen_up"]
    list_filter = ["binary", "disabled", "forced_down"]
    search_fields = ["host"]
    readonly_fields = ["uuid", "last_seen_up", "created_at", "updated_at"]

    @admin.display(boolean=True, description="up")
    def is_up(self, obj: Service) -> bool:
        return obj.is_up


@admin.register(ComputeNode)
class ComputeNodeAdmin(admin.ModelAdmin):
    list_display = ["host", "hypervisor_type", "vcpus", "memory_mb", "local_gb", "updated_at"]
    search_fields = ["host", "hypervisor_hostname"]
    readonly_fields = [f.name for f in ComputeNode._meta.fields]


class AggregateHostInline(admin.TabularInline):
    model = AggregateHost
    extra = 0


@admin.register(Aggregate)
class AggregateAdmin(admin.ModelAdmin):
    list_display = ["name", "availability_zone", "created_at"]
    search_fields = ["name"]
    inlines = [AggregateHostInline]

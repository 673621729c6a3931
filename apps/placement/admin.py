"""Operators' view of placement: providers with inventories and usage, allocations, traits.

Read-only except an inventory's allocation ratio and reserved amount, which are saved through
`services.set_inventory_overrides` (so they survive the host's next report).
"""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from apps.placement import services
from apps.placement.models import (
    Allocation,
    Inventory,
    ProviderAggregate,
    ResourceProvider,
    Trait,
)

if TYPE_CHECKING:  # the admin classes are generic only for the type checker
    _TabularInline = admin.TabularInline[Inventory, ResourceProvider]
    _ResourceProviderAdmin = admin.ModelAdmin[ResourceProvider]
    _InventoryAdmin = admin.ModelAdmin[Inventory]
    _AllocationAdmin = admin.ModelAdmin[Allocation]
    _TraitAdmin = admin.ModelAdmin[Trait]
else:
    _TabularInline = admin.TabularInline
    _ResourceProviderAdmin = _InventoryAdmin = _AllocationAdmin = _TraitAdmin = admin.ModelAdmin


class InventoryInline(_TabularInline):
    model = Inventory
    extra = 0
    can_delete = False
    fields = (
        "resource_class",
        "total",
        "reserved",
        "allocation_ratio",
        "min_unit",
        "max_unit",
        "step_size",
        "allocation_ratio_overridden",
        "reserved_overridden",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProviderAggregateInline(admin.TabularInline):
    model = ProviderAggregate
    fields = ("aggregate_uuid",)
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ResourceProvider)
class ResourceProviderAdmin(_ResourceProviderAdmin):
    list_display = ("name", "node", "uuid", "generation", "failed_builds", "usage")
    search_fields = ("name", "node", "uuid")
    readonly_fields = ("uuid", "name", "node", "generation", "failed_builds", "traits", "usage")
    fields = readonly_fields
    inlines = [InventoryInline, ProviderAggregateInline]

    @admin.display(description="usage (summed allocations)")
    def usage(self, obj: ResourceProvider) -> str:
        return ", ".join(
            f"{rc}={used}" for rc, used in sorted(services.provider_usages(obj).items())
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Inventory)
class InventoryAdmin(_InventoryAdmin):
    list_display = ("provider", "resource_class", "total", "reserved", "allocation_ratio")
    list_filter = ("resource_class", "allocation_ratio_overridden", "reserved_overridden")
    search_fields = ("provider__name",)
    fields = (
        "provider",
        "resource_class",
        "total",
        "min_unit",
        "max_unit",
        "step_size",
        "allocation_ratio",
        "reserved",
        "allocation_ratio_overridden",
        "reserved_overridden",
    )
    readonly_fields = (
        "provider",
        "resource_class",
        "total",
        "min_unit",
        "max_unit",
        "step_size",
        "allocation_ratio_overridden",
        "reserved_overridden",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Inventory, form: Any, change: bool) -> None:
        changed = set(form.changed_data)
        services.set_inventory_overrides(
            host=obj.provider.name,
            resource_class=obj.resource_class,
            allocation_ratio=obj.allocation_ratio if "allocation_ratio" in changed else None,
            reserved=obj.reserved if "reserved" in changed else None,
        )


@admin.register(Allocation)
class AllocationAdmin(_AllocationAdmin):
    list_display = (
        "consumer_uuid",
        "provider",
        "resource_class",
        "used",
        "project_id",
        "created_at",
    )
    list_filter = ("resource_class",)
    search_fields = ("consumer_uuid", "provider__name", "project_id")
    list_select_related = ("provider",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Trait)
class TraitAdmin(_TraitAdmin):
    list_display = ("name",)
    search_fields = ("name",)

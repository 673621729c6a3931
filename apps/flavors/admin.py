"""Operators' view of flavors, read-only: flavors are made, shared and given extra specs
through the API (`openstack flavor create`, ...), where the services keep Nova's rules (a
flavor never changes once servers may carry it; only its description does)."""

from django.contrib import admin
from django.http import HttpRequest

from apps.flavors.models import Flavor, FlavorAccess, FlavorExtraSpec


class FlavorExtraSpecInline(admin.TabularInline):
    model = FlavorExtraSpec
    fields = ["key", "value"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class FlavorAccessInline(admin.TabularInline):
    model = FlavorAccess
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in FlavorAccess._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Flavor)
class FlavorAdmin(admin.ModelAdmin):
    list_display = ["flavorid", "name", "vcpus", "memory_mb", "root_gb", "is_public", "disabled"]
    list_filter = ["is_public", "disabled"]
    search_fields = ["flavorid", "name"]
    inlines = [FlavorExtraSpecInline, FlavorAccessInline]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in Flavor._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

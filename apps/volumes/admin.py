"""Operators' view of volumes, snapshots, volume types and storage pools: read-only. Every
change goes through the volume API, whose services keep statuses, quotas and the hosts'
storage consistent; a page that edited a column would not. A volume in error shows why."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.volumes.models import StoragePool, Volume, VolumeAttachment, VolumeSnapshot, VolumeType


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AttachmentInline(admin.TabularInline):
    model = VolumeAttachment
    fields = ["instance_uuid", "status", "device", "host_name", "attached_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Volume)
class VolumeAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "name", "project", "size", "status", "volume_type", "pool", "bootable", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "bootable", "volume_type", "pool"]
    search_fields = ["id", "name", "project__name"]
    list_select_related = ["project", "volume_type", "pool"]
    inlines = [AttachmentInline]


@admin.register(VolumeSnapshot)
class VolumeSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "project", "volume", "size", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "name", "volume__id", "project__name"]
    list_select_related = ["project", "volume"]


@admin.register(VolumeType)
class VolumeTypeAdmin(ReadOnlyAdmin):
    list_display = ["name", "id", "is_public", "description"]
    list_filter = ["is_public"]
    search_fields = ["name", "id"]


@admin.register(StoragePool)
class StoragePoolAdmin(ReadOnlyAdmin):
    list_display = ["host", "backend", "shared", "total_gb", "free_gb", "updated_at"]
    list_filter = ["backend", "shared"]
    search_fields = ["host"]

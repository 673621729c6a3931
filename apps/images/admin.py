"""Operators' view of images: read-mostly; deleting goes through the delete service (data and
protection rules included)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.images import services
from apps.images.exceptions import ImageProtected
from apps.images.models import Image


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "owner", "status", "visibility", "disk_format", "size")
    list_filter = ("status", "visibility", "disk_format", "container_format", "protected")
    search_fields = ("name", "id", "owner__name", "os_hash_value")
    readonly_fields = (
        "id",
        "owner",
        "status",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
    )
    actions = ["delete_images"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images are created through the API (data must follow the record)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the bulk action below deletes through the service

    @admin.action(description="Delete selected images (and their data)")
    def delete_images(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        for image in queryset:
            try:
                services.delete_image(image=image)
            except ImageProtected as exc:
                self.message_user(request, exc.message, level=messages.WARNING)

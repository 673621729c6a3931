"""Operators' view of images: read-mostly. An edit is saved through `services.update_image`
(the image API's PATCH: under the row lock, formats only while queued), properties are not
edited here, and deleting goes through the delete service (data and protection rules
included)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.images import services
from apps.images.choices import ImageStatus
from apps.images.exceptions import ImageProtected
from apps.images.models import Image
from apps.images.services import QUEUED_ONLY_ATTRIBUTES, ImageChange
from computecloud.exceptions import ComputecloudError


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
        "properties",
    )
    actions = ["delete_images"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj is not None and obj.status != ImageStatus.QUEUED:
            fields += sorted(QUEUED_ONLY_ATTRIBUTES)  # as the API refuses them
        return fields

    def save_model(self, request: HttpRequest, obj: Image, form: Any, change: bool) -> None:
        changes = [
            ImageChange(op="replace", path=name, value=form.cleaned_data[name])
            for name in form.changed_data
        ]
        try:
            services.update_image(image=obj, changes=changes)
        except ComputecloudError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

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

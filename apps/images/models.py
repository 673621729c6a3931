"""The image record: Glance v2's attributes as columns, free-form properties as JSON.

The data itself lives in the image store (apps/images/store.py), keyed by the image id; this
row is the only thing that says whether the data is complete (status ``active``).
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.images.choices import (
    ContainerFormat,
    DiskFormat,
    ImageStatus,
    Visibility,
)


class ImageQuerySet(models.QuerySet["Image"]):
    def visible_to(self, context: RequestContext) -> "ImageQuerySet":
        """What `context` may see: everything for an admin; otherwise public and community
        images and its own project's. Other projects' private or shared images are absent
        (a 404, never a 403)."""
        if context.is_admin:
            return self
        return self.filter(
            Q(visibility__in=[Visibility.PUBLIC, Visibility.COMMUNITY])
            | Q(owner_id=context.project_id)
        )

    def listed_for(self, context: RequestContext) -> "ImageQuerySet":
        """The default list (no ``visibility`` filter): as `visible_to`, but other projects'
        community images are left out, as Glance does."""
        if context.is_admin:
            return self
        return self.filter(Q(visibility=Visibility.PUBLIC) | Q(owner_id=context.project_id))


class Image(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, null=True, blank=True)
    owner = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="images")
    status = models.CharField(
        max_length=16, choices=ImageStatus.choices, default=ImageStatus.QUEUED, db_index=True
    )
    visibility = models.CharField(max_length=16, choices=Visibility.choices, db_index=True)
    protected = models.BooleanField(default=False)
    # Hidden images are left out of the default list (Glance 2.7's os_hidden).
    os_hidden = models.BooleanField(default=False)
    disk_format = models.CharField(max_length=16, choices=DiskFormat.choices, null=True, blank=True)
    container_format = models.CharField(
        max_length=16, choices=ContainerFormat.choices, null=True, blank=True
    )
    # Bytes of data in the store, and of the disk it describes (qemu-img's virtual size).
    size = models.BigIntegerField(null=True, blank=True)
    virtual_size = models.BigIntegerField(null=True, blank=True)
    checksum = models.CharField(max_length=32, null=True, blank=True)  # md5, hex
    os_hash_algo = models.CharField(max_length=64, null=True, blank=True)
    os_hash_value = models.CharField(max_length=128, null=True, blank=True, db_index=True)
    min_disk = models.PositiveIntegerField(default=0)  # GiB
    min_ram = models.PositiveIntegerField(default=0)  # MiB
    tags = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    # Everything else (hw_*, os_*, owner_specified.*): string values, top-level keys in the API.
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "name"], name="image_owner_name")]

    def __str__(self) -> str:
        return f"{self.name or '(unnamed)'} ({self.id})"

    @property
    def is_active(self) -> bool:
        return self.status == ImageStatus.ACTIVE

    def is_owned_by(self, context: RequestContext) -> bool:
        """Whether `context` may change this image (its project owns it, or it is admin)."""
        return context.is_admin or self.owner_id == context.project_id

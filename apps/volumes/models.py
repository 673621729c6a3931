"""Volumes, their snapshots and types, where they live (storage pools) and who has them
attached. Volumes know no servers: an attachment names its instance by uuid, as Cinder's do.

A volume's status changes only through `apps.volumes.states.transition` (compare and set)."""

import uuid

from django.db import models

from apps.identity.models import Project
from apps.volumes.choices import (
    DEFAULT_TYPE_NAME,
    AttachStatus,
    BackendKind,
    SnapshotStatus,
    VolumeStatus,
)


class VolumeType(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.CharField(max_length=255, blank=True, null=True)
    is_public = models.BooleanField(default=True)
    extra_specs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default(cls) -> "VolumeType":
        """The type of a volume created without one. A migration makes it; made again here
        if an operator removed it, so that no create fails for want of it."""
        kind, _ = cls.objects.get_or_create(
            name=DEFAULT_TYPE_NAME, defaults={"description": "Default Volume Type"}
        )
        return kind


class StoragePool(models.Model):
    """One host's volume store, as its compute worker reports it. A pool that is not `shared`
    keeps volumes on that host's disk: they attach only to guests on that host, and a server
    booted from one is scheduled there."""

    host = models.CharField(max_length=255)
    backend = models.CharField(max_length=16, choices=BackendKind.choices)
    shared = models.BooleanField(default=False)
    total_gb = models.PositiveBigIntegerField(default=0)
    free_gb = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host", "backend"]
        constraints = [
            models.UniqueConstraint(fields=["host", "backend"], name="storage_pool_unique_host")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """Cinder's ``host@backend#pool``."""
        return f"{self.host}@{self.backend}#{self.backend}"


class Volume(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="volumes")
    user_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True, null=True)
    description = models.CharField(max_length=255, blank=True, null=True)
    size = models.PositiveIntegerField()  # GiB
    status = models.CharField(
        max_length=32, choices=VolumeStatus.choices, default=VolumeStatus.CREATING
    )
    volume_type = models.ForeignKey(VolumeType, on_delete=models.PROTECT, related_name="volumes")
    availability_zone = models.CharField(max_length=255, default="nova")
    bootable = models.BooleanField(default=False)
    multiattach = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    # Where it came from (at most one source).
    image_id = models.UUIDField(null=True, blank=True)
    volume_image_metadata = models.JSONField(default=dict, blank=True)
    snapshot = models.ForeignKey(
        "VolumeSnapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_volid = models.UUIDField(null=True, blank=True)
    pool = models.ForeignKey(
        StoragePool, null=True, blank=True, on_delete=models.PROTECT, related_name="volumes"
    )
    # Why the volume is in error, for operators (the API does not show it).
    error_reason = models.TextField(blank=True)
    # The size an extend under way grows it to (GiB): `size` changes when the host is done,
    # and the quota counts the larger of the two meanwhile.
    extending_to = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="volume_project_created"),
            models.Index(fields=["status"], name="volume_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=1), name="volume_size_positive")
        ]

    def __str__(self) -> str:
        return f"volume {self.id} ({self.name or ''})"


class VolumeSnapshot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="volume_snapshots")
    user_id = models.CharField(max_length=64)
    volume = models.ForeignKey(Volume, on_delete=models.PROTECT, related_name="snapshots")
    name = models.CharField(max_length=255, blank=True, null=True)
    description = models.CharField(max_length=255, blank=True, null=True)
    size = models.PositiveIntegerField()
    status = models.CharField(
        max_length=32, choices=SnapshotStatus.choices, default=SnapshotStatus.CREATING
    )
    metadata = models.JSONField(default=dict, blank=True)
    error_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot {self.id} of volume {self.volume_id}"


class VolumeAttachment(models.Model):
    """Volume `volume` given to instance `instance_uuid` (one row per instance; several only
    for a multiattach volume). `id` is the attachment id clients see."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="attachments")
    instance_uuid = models.UUIDField()
    status = models.CharField(
        max_length=16, choices=AttachStatus.choices, default=AttachStatus.RESERVED
    )
    device = models.CharField(max_length=64, blank=True)
    host_name = models.CharField(max_length=255, blank=True)
    attached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["volume", "instance_uuid"], name="volume_attachment_unique_instance"
            )
        ]

    def __str__(self) -> str:
        return f"volume {self.volume_id} on instance {self.instance_uuid}"

"""Flavors, extra specs and access lists for private flavors."""

from django.db import models
from django.db.models import Q


class FlavorQuerySet(models.QuerySet):
    def for_project(self, project_id: str | None) -> "FlavorQuerySet":
        """The flavors a project may read and use: the public ones and the private ones
        shared with it (Nova's flavor query for a non-admin context)."""
        shared = FlavorAccess.objects.filter(project_id=project_id).values("flavor_id")
        return self.filter(Q(is_public=True) | Q(pk__in=shared))


class Flavor(models.Model):
    # The API id (a string: Nova allows any, usually a number or a uuid).
    flavorid = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, unique=True)
    memory_mb = models.PositiveIntegerField()
    vcpus = models.PositiveIntegerField()
    root_gb = models.PositiveIntegerField(default=0)
    ephemeral_gb = models.PositiveIntegerField(default=0)
    swap = models.PositiveIntegerField(default=0)
    rxtx_factor = models.FloatField(default=1.0)
    is_public = models.BooleanField(default=True)
    disabled = models.BooleanField(default=False)
    description = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FlavorQuerySet.as_manager()

    class Meta:
        ordering = ["flavorid"]

    def __str__(self) -> str:
        return self.name


class FlavorExtraSpec(models.Model):
    flavor = models.ForeignKey(Flavor, on_delete=models.CASCADE, related_name="extra_specs")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["flavor", "key"], name="flavor_extra_spec_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class FlavorAccess(models.Model):
    flavor = models.ForeignKey(Flavor, on_delete=models.CASCADE, related_name="projects")
    project_id = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flavor", "project_id"], name="flavor_access_unique")
        ]

    def __str__(self) -> str:
        return f"{self.flavor} for {self.project_id}"

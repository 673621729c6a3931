"""Per-project quota overrides. Defaults live in settings (``QUOTA_DEFAULTS``); usage is never
stored: it is counted from the servers, key pairs, server groups and network resources
themselves."""

from django.db import models

from apps.identity.models import Project
from apps.quotas.choices import NetworkQuotaResource, QuotaResource, VolumeQuotaResource


class ProjectQuota(models.Model):
    """Project *project* may use at most *hard_limit* of *resource* (-1: unlimited)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas")
    resource = models.CharField(
        max_length=64,
        choices=QuotaResource.choices + NetworkQuotaResource.choices + VolumeQuotaResource.choices,
    )
    hard_limit = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "resource"]
        constraints = [
            models.UniqueConstraint(fields=["project", "resource"], name="project_quota_unique"),
            models.CheckConstraint(
                condition=models.Q(hard_limit__gte=-1), name="project_quota_limit_at_least_minus_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project}: {self.resource} ≤ {self.hard_limit}"

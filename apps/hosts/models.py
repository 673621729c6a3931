"""Services, compute nodes and host aggregates.

A `Service` row is one running worker (binary on host): its heartbeat is `last_seen_up`, and
whether it is up is derived from that and ``SERVICE_DOWN_TIME``, never stored. A compute
service has one `ComputeNode` carrying the hypervisor facts it reported; placement's
resource provider for that node shares the node's uuid.
"""

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

from apps.hosts.choices import COMPUTE_BINARY
from computecloud.conf import cc_settings


class Service(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.CharField(max_length=255)
    binary = models.CharField(max_length=64, default=COMPUTE_BINARY)
    topic = models.CharField(max_length=255, blank=True)
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=255, blank=True)
    forced_down = models.BooleanField(default=False)
    last_seen_up = models.DateTimeField(null=True, blank=True)
    version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host", "binary"]
        constraints = [
            models.UniqueConstraint(fields=["host", "binary"], name="service_unique_host_binary")
        ]

    def __str__(self) -> str:
        return f"{self.binary}@{self.host}"

    @property
    def is_up(self) -> bool:
        if self.forced_down or self.last_seen_up is None:
            return False
        down_after = timedelta(seconds=cc_settings.SERVICE_DOWN_TIME)
        return timezone.now() - self.last_seen_up <= down_after


class ComputeNode(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="compute_node")
    host = models.CharField(max_length=255, unique=True)
    hypervisor_hostname = models.CharField(max_length=255)
    hypervisor_type = models.CharField(max_length=64, default="QEMU")
    hypervisor_version = models.BigIntegerField(default=0)
    host_ip = models.GenericIPAddressField(null=True, blank=True)
    cpu_info = models.JSONField(default=dict, blank=True)
    vcpus = models.PositiveIntegerField(default=0)
    memory_mb = models.PositiveBigIntegerField(default=0)
    local_gb = models.PositiveBigIntegerField(default=0)
    # Capabilities the driver declared (supports_* flags), matched as traits by the scheduler.
    capabilities = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.hypervisor_hostname


class Aggregate(models.Model):
    """A named group of hosts with metadata; ``availability_zone`` metadata makes it an AZ."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def availability_zone(self) -> str | None:
        return self.metadata.get("availability_zone")


class AggregateHost(models.Model):
    aggregate = models.ForeignKey(Aggregate, on_delete=models.CASCADE, related_name="hosts")
    host = models.CharField(max_length=255, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["aggregate", "host"], name="aggregate_host_unique")
        ]

    def __str__(self) -> str:
        return f"{self.host} in {self.aggregate}"

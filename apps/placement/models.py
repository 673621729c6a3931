"""Placement data: resource providers, their inventories, traits and aggregates, allocations.

One `ResourceProvider` per compute node (same uuid as `apps.hosts.models.ComputeNode`, name =
the host). Its `Inventory` rows say how much of each resource class it has; `Allocation` rows
say who uses how much. Usage is *always* the sum of allocations: there is no usage counter to
drift. The only writer is `apps.placement.services` (claims go through `claims.py`).

The tables keep the names they had when these models were the scheduler app's
(``scheduler_*``): the models moved to this app in state only (migrations
placement.0001_initial and scheduler.0003), so no row was copied.

Capacity of one class on one provider: ``(total - reserved) * allocation_ratio``; a request of
``amount`` fits when ``used + amount <= capacity`` and ``min_unit <= amount <= max_unit`` and
``amount % step_size == 0``. See docs/scheduler.md.
"""

import uuid

from django.db import models


class Trait(models.Model):
    """A qualitative capability (HW_CPU_X86_AVX2, COMPUTE_VOLUME_MULTI_ATTACH, CUSTOM_*)."""

    name = models.CharField(max_length=255, unique=True)

    class Meta:
        db_table = "scheduler_trait"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ResourceProvider(models.Model):
    # The compute node's uuid: the tie to apps.hosts without a cross-app foreign key, so a
    # provider survives its node row being rebuilt and the hosts app stays free to change.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    # The compute host name (ComputeNode.host, Service.host); unique like ComputeNode.host.
    name = models.CharField(max_length=255, unique=True)
    # The hypervisor node name the API reports (ComputeNode.hypervisor_hostname).
    node = models.CharField(max_length=255, blank=True)
    # Bumped on every inventory or trait change (Placement's optimistic-concurrency token).
    generation = models.PositiveBigIntegerField(default=0)
    # Consecutive failed builds on this host, reset by a success: the BuildFailureWeigher's
    # input (a health signal, not a resource usage).
    failed_builds = models.PositiveIntegerField(default=0)
    traits = models.ManyToManyField(
        Trait, blank=True, related_name="providers", db_table="scheduler_resourceprovider_traits"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scheduler_resourceprovider"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Inventory(models.Model):
    # No index of its own: the (provider, class) unique constraint leads with it.
    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.CASCADE, related_name="inventories", db_index=False
    )
    resource_class = models.CharField(max_length=255)
    total = models.PositiveBigIntegerField()
    reserved = models.PositiveBigIntegerField(default=0)
    min_unit = models.PositiveBigIntegerField(default=1)
    max_unit = models.PositiveBigIntegerField()
    step_size = models.PositiveBigIntegerField(default=1)
    allocation_ratio = models.FloatField(default=1.0)
    # Set by an operator (admin or `set_inventory_overrides`): kept when the host re-reports.
    allocation_ratio_overridden = models.BooleanField(default=False)
    reserved_overridden = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scheduler_inventory"
        ordering = ["provider_id", "resource_class"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "resource_class"], name="inventory_unique_provider_class"
            ),
            models.CheckConstraint(
                condition=models.Q(step_size__gte=1), name="inventory_step_size_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(allocation_ratio__gt=0), name="inventory_ratio_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.resource_class}={self.total}"

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)


class Allocation(models.Model):
    """`used` units of one class on one provider, held by one consumer (instance or migration)."""

    # No index of its own: (provider, class) below leads with it.
    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    consumer_uuid = models.UUIDField()
    resource_class = models.CharField(max_length=255)
    used = models.PositiveBigIntegerField()
    project_id = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "scheduler_allocation"
        ordering = ["provider_id", "consumer_uuid", "resource_class"]
        constraints = [
            # Leads with the consumer: it is also the index of release/move by consumer.
            models.UniqueConstraint(
                fields=["consumer_uuid", "provider", "resource_class"],
                name="allocation_unique_consumer_class",
            ),
            models.CheckConstraint(condition=models.Q(used__gt=0), name="allocation_used_positive"),
        ]
        indexes = [
            # Usage sums read (provider, class, used) only: an index-only scan.
            models.Index(
                fields=["provider", "resource_class"],
                include=["used"],
                name="allocation_usage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer_uuid}: {self.resource_class}={self.used}@{self.provider_id}"


class ProviderAggregate(models.Model):
    """A provider's membership of a host aggregate (apps.hosts Aggregate.uuid)."""

    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.CASCADE, related_name="aggregates"
    )
    aggregate_uuid = models.UUIDField(db_index=True)

    class Meta:
        db_table = "scheduler_provideraggregate"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "aggregate_uuid"], name="provider_aggregate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} in {self.aggregate_uuid}"

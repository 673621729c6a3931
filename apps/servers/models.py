"""Servers and what hangs off them: metadata, tags, faults, actions, migrations, groups.

State columns (vm_state, task_state, power_state, host, node) are written only through
`apps.servers.states.transition`; no `save()` side effects, no signals.
"""

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone

from apps.identity.models import Project
from apps.servers.choices import PowerState, TaskState, VmState


class ServerQuerySet(models.QuerySet):
    def for_project(self, project_id: str) -> "ServerQuerySet":
        return self.filter(project_id=project_id)

    def on_host(self, host: str) -> "ServerQuerySet":
        return self.filter(host=host)


class LiveServerManager(models.Manager.from_queryset(ServerQuerySet)):  # type: ignore[misc]
    """Servers not yet deleted: what every API read wants."""

    def get_queryset(self) -> ServerQuerySet:
        return super().get_queryset().filter(deleted=False)


class Server(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="servers")
    user_id = models.CharField(max_length=64)

    # What it is: a snapshot of the flavor at build time (Nova embeds it), plus columns
    # the quota and hypervisor statistics sum.
    flavor_id = models.CharField(max_length=255, db_index=True)
    flavor = models.JSONField(default=dict)
    vcpus = models.PositiveIntegerField(default=0)
    memory_mb = models.PositiveIntegerField(default=0)
    root_gb = models.PositiveIntegerField(default=0)
    image_ref = models.CharField(max_length=64, blank=True, db_index=True)
    # The image's properties as they were at build (hw_* and min_* drive the domain).
    image_meta = models.JSONField(default=dict, blank=True)

    # Where it is.
    host = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    node = models.CharField(max_length=255, null=True, blank=True)
    launched_on = models.CharField(max_length=255, null=True, blank=True)
    availability_zone = models.CharField(max_length=255, null=True, blank=True)
    requested_availability_zone = models.CharField(max_length=255, null=True, blank=True)

    # State (see states.py).
    vm_state = models.CharField(max_length=32, choices=VmState.choices, default=VmState.BUILDING)
    task_state = models.CharField(
        max_length=64, choices=TaskState.choices, null=True, blank=True, default=None
    )
    power_state = models.IntegerField(choices=PowerState.choices, default=PowerState.NOSTATE)
    progress = models.PositiveSmallIntegerField(default=0)

    # What the guest gets.
    hostname = models.CharField(max_length=255, blank=True)
    key_name = models.CharField(max_length=255, null=True, blank=True)
    key_data = models.TextField(null=True, blank=True)
    user_data = models.TextField(null=True, blank=True)
    config_drive = models.BooleanField(default=False)
    access_ip_v4 = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    access_ip_v6 = models.GenericIPAddressField(protocol="IPv6", null=True, blank=True)
    # The create request's NICs as resolved at create (a list of {network_id, port_id,
    # fixed_ip, tag}; empty: none), bound when the build has a host; its block devices as
    # asked, for when volumes exist.
    requested_networks = models.JSONField(default=list, blank=True)
    # The security groups the create request named (ids, as resolved at create); its ports
    # get them. Empty: the project's "default" group.
    security_groups = models.JSONField(default=list, blank=True)
    block_device_mapping = models.JSONField(default=list, blank=True)
    # Addresses per network as the API shows them: {"net": [{"addr", "version", ...}]}.
    addresses = models.JSONField(default=dict, blank=True)
    # The user's scheduler hints, validated against the public allow-list (group, same_host,
    # different_host) and nothing else.
    scheduler_hints = models.JSONField(default=dict, blank=True)
    # Where an admin sent the build (``availability_zone="zone:host[:node]"``, forced past the
    # filters, or ``host``/``hypervisor_hostname`` from 2.74, filtered): {"host", "node",
    # "force"}. Kept apart from the hints so that no request input can name it.
    requested_destination = models.JSONField(null=True, blank=True)
    # Where the host said the guest's VNC server listens: {"host": ..., "port": ...}.
    console = models.JSONField(null=True, blank=True)

    # Locking.
    locked = models.BooleanField(default=False)
    locked_by = models.CharField(max_length=16, null=True, blank=True)  # "owner" | "admin"
    locked_reason = models.CharField(max_length=255, null=True, blank=True)

    reservation_id = models.CharField(max_length=64, db_index=True)
    launch_index = models.PositiveIntegerField(default=0)
    # Build attempts so far (the first host plus reschedules).
    attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = LiveServerManager()
    with_deleted = ServerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "with_deleted"
        indexes = [
            models.Index(
                fields=["project", "deleted", "-created_at"], name="server_project_recent"
            ),
            # The metadata service finds the calling guest by its fixed address.
            GinIndex(fields=["addresses"], name="server_addresses_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.uuid})"

    @property
    def is_locked(self) -> bool:
        return self.locked


class ServerMetadata(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="metadata_items")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["server", "key"], name="server_meta_unique")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class ServerTag(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=60)

    class Meta:
        ordering = ["tag"]
        constraints = [models.UniqueConstraint(fields=["server", "tag"], name="server_tag_unique")]

    def __str__(self) -> str:
        return self.tag


class BlockDeviceMapping(models.Model):
    """A volume a server has (Nova's block device mapping with a volume destination): its
    root disk when `boot_index` is 0, else an attached disk. The volume service keeps the
    volume and its attachment; this row is the server's side: which device, whether deleting
    the server deletes the volume, the tag. `uuid` is what 2.89 shows as ``bdm_uuid``."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="block_devices")
    volume_id = models.UUIDField()
    attachment_id = models.UUIDField(null=True, blank=True)
    source_type = models.CharField(max_length=16, default="volume")  # volume|image|snapshot|blank
    boot_index = models.IntegerField(null=True, blank=True)
    device_name = models.CharField(max_length=64, blank=True)  # "/dev/vdb" once known
    disk_bus = models.CharField(max_length=16, blank=True)
    delete_on_termination = models.BooleanField(default=False)
    tag = models.CharField(max_length=60, null=True, blank=True)
    # False while the host plugs it (attach under way); the API lists only attached ones.
    attached = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["server", "volume_id"], name="bdm_unique_volume")
        ]

    def __str__(self) -> str:
        return f"volume {self.volume_id} on {self.server_id} ({self.device_name})"


class InstanceFault(models.Model):
    """Why an instance is in ERROR (or why an operation on it failed), newest first."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="faults")
    code = models.PositiveSmallIntegerField(default=500)
    message = models.CharField(max_length=255)
    details = models.TextField(blank=True)
    host = models.CharField(max_length=255, null=True, blank=True)
    # A "No valid host" fault's explanation as the scheduler made it (requested, placed,
    # considered, summary, rejections with step, reason, count and hosts), so readers need not
    # parse the message; None for any other fault and for faults older than the field. Never
    # in the API's fault body (Nova's shape); apps/servers/no_valid_host.py reads it.
    explanation = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.server_id}: {self.message}"


class InstanceAction(models.Model):
    """One user-visible operation on an instance (create, reboot, ...), os-instance-actions."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64, null=True, blank=True)
    project_id = models.CharField(max_length=64, null=True, blank=True)
    message = models.CharField(max_length=255, null=True, blank=True)
    start_time = models.DateTimeField(auto_now_add=True)
    finish_time = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_time", "-id"]

    def __str__(self) -> str:
        return f"{self.action} of {self.server_id} ({self.request_id})"


class InstanceActionEvent(models.Model):
    """A step of an action (scheduling, building on a host, ...), with its result."""

    action = models.ForeignKey(InstanceAction, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=255)
    host = models.CharField(max_length=255, null=True, blank=True)
    result = models.CharField(max_length=32, null=True, blank=True)  # Success | Error
    traceback = models.TextField(null=True, blank=True)
    details = models.TextField(null=True, blank=True)
    # A default, not auto_now_add: a step timed by its host records when the host began it.
    start_time = models.DateTimeField(default=timezone.now)
    finish_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start_time", "id"]

    def __str__(self) -> str:
        return f"{self.event}: {self.result}"


class Migration(models.Model):
    """A resize or cold migration: the consumer of the source allocation while it lasts."""

    class Type(models.TextChoices):
        RESIZE = "resize"
        MIGRATION = "migration"

    class Status(models.TextChoices):
        PRE_MIGRATING = "pre-migrating"
        MIGRATING = "migrating"
        POST_MIGRATING = "post-migrating"
        FINISHED = "finished"
        CONFIRMING = "confirming"
        CONFIRMED = "confirmed"
        REVERTING = "reverting"
        REVERTED = "reverted"
        ERROR = "error"
        FAILED = "failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="migrations")
    migration_type = models.CharField(max_length=16, choices=Type.choices)
    # Who asked for it (os-migrations shows them from 2.80).
    user_id = models.CharField(max_length=64, blank=True)
    project_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.PRE_MIGRATING)
    source_host = models.CharField(max_length=255)
    source_node = models.CharField(max_length=255, blank=True)
    dest_host = models.CharField(max_length=255, null=True, blank=True)
    dest_node = models.CharField(max_length=255, null=True, blank=True)
    old_flavor = models.JSONField(default=dict)
    new_flavor = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.migration_type} of {self.server_id}: {self.status}"


class ServerGroup(models.Model):
    class Policy(models.TextChoices):
        AFFINITY = "affinity"
        ANTI_AFFINITY = "anti-affinity"
        SOFT_AFFINITY = "soft-affinity"
        SOFT_ANTI_AFFINITY = "soft-anti-affinity"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="server_groups")
    user_id = models.CharField(max_length=64)
    policy = models.CharField(max_length=32, choices=Policy.choices)
    # {"max_server_per_host": N} for anti-affinity (2.64+).
    rules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.policy})"


class ServerGroupMember(models.Model):
    group = models.ForeignKey(ServerGroup, on_delete=models.CASCADE, related_name="members")
    server = models.OneToOneField(Server, on_delete=models.CASCADE, related_name="group_membership")

    def __str__(self) -> str:
        return f"{self.server_id} in {self.group_id}"

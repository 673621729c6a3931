"""Project networks as Neutron models them: networks, subnets, ports and their addresses,
security groups, routers, floating IPs; and each host's tunnel address.

The database holds the guarantees that concurrency needs, so that no service has to win a
race by luck: an address is given once per subnet (`IPAllocation`'s UNIQUE(subnet,
ip_address)), a MAC once (`Port.mac_address`), a VNI once (`Network.segmentation_id`), a
physical network to one flat network, a default security group once per project, a NIC
index once per instance. Services insert and catch the violation (docs/networks.md, "IPAM").

No logic here beyond predicates and visibility querysets: writes go through the services.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from apps.identity.models import Project
from apps.networks.choices import (
    HIDDEN_OWNERS,
    Direction,
    EtherType,
    NetworkType,
    ResourceStatus,
    VnicType,
)


def _tags() -> ArrayField:
    return ArrayField(models.CharField(max_length=60), default=list, blank=True)


class StandardAttributes(models.Model):
    """What every Neutron resource carries: description, tags, timestamps, revision."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    description = models.CharField(max_length=255, blank=True, default="")
    tags = _tags()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    revision_number = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


# --- networks ---------------------------------------------------------------------------------
class NetworkQuerySet(models.QuerySet):
    def visible_to(self, project_id: str | None, *, is_admin: bool) -> "NetworkQuerySet":
        """Admins see every network; a project its own, the shared and the external ones."""
        if is_admin:
            return self
        return self.filter(Q(project_id=project_id) | Q(shared=True) | Q(router_external=True))

    def usable_by(self, project_id: str | None, *, is_admin: bool) -> "NetworkQuerySet":
        """Networks a project may put ports on: its own and the shared ones."""
        if is_admin:
            return self
        return self.filter(Q(project_id=project_id) | Q(shared=True))


class Network(StandardAttributes):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="networks")
    name = models.CharField(max_length=255, blank=True, default="")
    admin_state_up = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.ACTIVE
    )
    shared = models.BooleanField(default=False)
    router_external = models.BooleanField(default=False)
    mtu = models.PositiveIntegerField()
    port_security_enabled = models.BooleanField(default=True)
    network_type = models.CharField(max_length=16, choices=NetworkType.choices)
    # VXLAN: the VNI, from NETWORK_VNI_RANGE unless an admin named one. Flat: None.
    segmentation_id = models.PositiveIntegerField(null=True, blank=True)
    # Flat: a key of NETWORK_PHYSICAL_BRIDGES. VXLAN: None.
    physical_network = models.CharField(max_length=64, null=True, blank=True)

    objects = NetworkQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["segmentation_id"], name="network_unique_vni"),
            models.UniqueConstraint(
                fields=["physical_network"],
                condition=Q(network_type=NetworkType.FLAT),
                name="network_one_flat_per_physical_network",
            ),
            models.CheckConstraint(
                condition=(
                    Q(network_type=NetworkType.VXLAN, segmentation_id__isnull=False)
                    | Q(network_type=NetworkType.FLAT, physical_network__isnull=False)
                ),
                name="network_segment_complete",
            ),
        ]
        indexes = [models.Index(fields=["project", "name"], name="network_project_name")]

    def __str__(self) -> str:
        return f"{self.name or self.pk} ({self.network_type})"


class SubnetQuerySet(models.QuerySet):
    def visible_to(self, project_id: str | None, *, is_admin: bool) -> "SubnetQuerySet":
        """A subnet is seen with its network: own, on a network of the project's, or on a
        shared or external network."""
        if is_admin:
            return self
        return self.filter(
            Q(project_id=project_id)
            | Q(network__project_id=project_id)
            | Q(network__shared=True)
            | Q(network__router_external=True)
        )


class OwnedQuerySet(models.QuerySet):
    """Resources only their project (and admins) see: security groups, routers, floating
    IPs."""

    def visible_to(self, project_id: str | None, *, is_admin: bool) -> "OwnedQuerySet":
        return self if is_admin else self.filter(project_id=project_id)


class Subnet(StandardAttributes):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="subnets")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="subnets")
    name = models.CharField(max_length=255, blank=True, default="")
    ip_version = models.PositiveSmallIntegerField()
    cidr = models.CharField(max_length=64)  # normalised: "10.0.0.0/24"
    gateway_ip = models.GenericIPAddressField(null=True, blank=True)
    # [{"start": ip, "end": ip}], inside the CIDR, disjoint, never holding the gateway.
    allocation_pools = models.JSONField(default=list)
    dns_nameservers = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    host_routes = models.JSONField(default=list, blank=True)  # [{"destination", "nexthop"}]
    enable_dhcp = models.BooleanField(default=True)

    objects = SubnetQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name or self.pk} {self.cidr}"


# --- security groups --------------------------------------------------------------------------
class SecurityGroup(StandardAttributes):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="security_groups")
    name = models.CharField(max_length=255, blank=True, default="")
    stateful = models.BooleanField(default=True)
    # The project's "default" group, made on first need; one per project.
    is_default = models.BooleanField(default=False)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_default=True), name="security_group_one_default"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name or self.pk} of {self.project_id}"


class SecurityGroupRule(StandardAttributes):
    security_group = models.ForeignKey(
        SecurityGroup, on_delete=models.CASCADE, related_name="rules"
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    ethertype = models.CharField(max_length=4, choices=EtherType.choices)
    protocol = models.CharField(max_length=16, null=True, blank=True)  # a name or a number
    port_range_min = models.PositiveIntegerField(null=True, blank=True)
    port_range_max = models.PositiveIntegerField(null=True, blank=True)
    remote_ip_prefix = models.CharField(max_length=64, null=True, blank=True)  # as given
    # The prefix as a network (host bits cleared); None for "anywhere" (no prefix, or a /0),
    # so that 0.0.0.0/0 and no prefix are the same rule.
    normalized_cidr = models.CharField(max_length=64, null=True, blank=True)
    remote_group = models.ForeignKey(
        SecurityGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A duplicate is SecurityGroupRuleExists (409), concurrent creates included.
            models.UniqueConstraint(
                fields=[
                    "security_group",
                    "direction",
                    "ethertype",
                    "protocol",
                    "port_range_min",
                    "port_range_max",
                    "normalized_cidr",
                    "remote_group",
                ],
                nulls_distinct=False,
                name="security_group_rule_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.ethertype} {self.protocol or 'any'} ({self.pk})"


# --- routers ----------------------------------------------------------------------------------
class Router(StandardAttributes):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="routers")
    name = models.CharField(max_length=255, blank=True, default="")
    admin_state_up = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.ACTIVE
    )
    # The external gateway: the network, and the port that holds the router's address there
    # (device_owner network:router_gateway).
    external_network = models.ForeignKey(
        Network, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    gateway_port = models.OneToOneField(
        "Port", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    enable_snat = models.BooleanField(default=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"router {self.name or self.pk}"


# --- ports and addresses ----------------------------------------------------------------------
class PortQuerySet(models.QuerySet):
    def visible_to(self, project_id: str | None, *, is_admin: bool) -> "PortQuerySet":
        """Admins see every port; a project its own ports and the ports on its networks, but
        never the addresses the service holds for routers' gateways and floating IPs."""
        if is_admin:
            return self
        return self.filter(Q(project_id=project_id) | Q(network__project_id=project_id)).exclude(
            device_owner__in=HIDDEN_OWNERS
        )


class Port(StandardAttributes):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="ports")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="ports")
    name = models.CharField(max_length=255, blank=True, default="")
    mac_address = models.CharField(max_length=17, unique=True)
    admin_state_up = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.DOWN
    )
    device_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    device_owner = models.CharField(max_length=255, blank=True, default="")
    binding_host_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    binding_vnic_type = models.CharField(
        max_length=16, choices=VnicType.choices, default=VnicType.NORMAL
    )
    binding_profile = models.JSONField(default=dict, blank=True)
    port_security_enabled = models.BooleanField(default=True)
    security_groups = models.ManyToManyField(SecurityGroup, blank=True, related_name="ports")
    # False for the ports the compute service made for an instance (it deletes them with the
    # instance); True for ports a user made, which an instance only borrows (Nova's
    # preserve_on_delete): unbound when the instance goes, never deleted.
    preserve_on_delete = models.BooleanField(default=True)
    # The instance's NIC this port is, in request order: what makes a redelivered build find
    # its ports instead of making more, and the order of its addresses.
    nic_index = models.PositiveSmallIntegerField(null=True, blank=True)
    tag = models.CharField(max_length=60, null=True, blank=True)  # the device tag
    hostname = models.CharField(max_length=255, blank=True, default="")  # the guest's

    objects = PortQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device_id", "nic_index"],
                condition=Q(nic_index__isnull=False),
                name="port_one_per_instance_nic",
            )
        ]
        indexes = [models.Index(fields=["network", "device_owner"], name="port_network_owner")]

    def __str__(self) -> str:
        return f"port {self.name or self.pk} on {self.network_id}"

    @property
    def is_bound(self) -> bool:
        return bool(self.device_id)


class IPAllocation(models.Model):
    """One fixed address of a port. UNIQUE(subnet, ip_address) is the guarantee that no two
    ports ever hold the same address: concurrent allocations insert, one wins."""

    port = models.ForeignKey(Port, on_delete=models.CASCADE, related_name="fixed_ips")
    subnet = models.ForeignKey(Subnet, on_delete=models.PROTECT, related_name="allocations")
    ip_address = models.GenericIPAddressField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subnet", "ip_address"], name="ip_allocation_unique_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ip_address} on {self.subnet_id}"


# --- floating IPs -----------------------------------------------------------------------------
class FloatingIP(StandardAttributes):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="floating_ips")
    floating_network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    # The port (device_owner network:floatingip) whose allocation holds the address, so that
    # floating and fixed addresses come from one IPAM.
    floating_port = models.OneToOneField(Port, on_delete=models.PROTECT, related_name="+")
    floating_ip_address = models.GenericIPAddressField()
    status = models.CharField(
        max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.DOWN
    )
    # The association: a port's fixed address, reached through `router`.
    port = models.ForeignKey(
        Port, on_delete=models.SET_NULL, null=True, blank=True, related_name="floating_ips"
    )
    fixed_ip_address = models.GenericIPAddressField(null=True, blank=True)
    router = models.ForeignKey(
        Router, on_delete=models.SET_NULL, null=True, blank=True, related_name="floating_ips"
    )

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["port", "fixed_ip_address"],
                condition=Q(port__isnull=False),
                name="floating_ip_one_per_fixed_ip",
            )
        ]

    def __str__(self) -> str:
        return f"floating {self.floating_ip_address}"


# --- hosts ------------------------------------------------------------------------------------
class HostTunnel(models.Model):
    """The address a host's VXLAN tunnels end on, as its heartbeats report it: the other
    hosts with ports on a network send that network's traffic there."""

    host = models.CharField(max_length=255, primary_key=True)
    tunnel_ip = models.GenericIPAddressField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return f"{self.host} at {self.tunnel_ip}"

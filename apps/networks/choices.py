"""Enumerated columns and well-known values of the networking app, by Neutron's names."""

from django.db import models


class NetworkType(models.TextChoices):
    """How a network reaches the hosts: a VXLAN segment (a kernel vxlan device per host, VNI
    `segmentation_id`) or an operator's bridge on each host (``NETWORK_PHYSICAL_BRIDGES``)."""

    VXLAN = "vxlan"
    FLAT = "flat"


class ResourceStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    DOWN = "DOWN"
    BUILD = "BUILD"
    ERROR = "ERROR"


class VnicType(models.TextChoices):
    NORMAL = "normal"


class Direction(models.TextChoices):
    INGRESS = "ingress"
    EGRESS = "egress"


class EtherType(models.TextChoices):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


# MTU of a network by type: VXLAN's 50 bytes of encapsulation come off a 1500-byte underlay.
DEFAULT_MTU = {NetworkType.VXLAN: 1450, NetworkType.FLAT: 1500}
MAX_MTU = DEFAULT_MTU

# device_owner values the network service itself uses. A port whose owner starts with
# "network:" is infrastructure: users do not delete it through the port API.
OWNER_ROUTER_INTERFACE = "network:router_interface"
OWNER_ROUTER_GATEWAY = "network:router_gateway"
OWNER_FLOATING_IP = "network:floatingip"
OWNER_DHCP = "network:dhcp"
NETWORK_OWNER_PREFIX = "network:"
COMPUTE_OWNER_PREFIX = "compute:"
# Ports that hold an address for the service rather than for a user: never listed to project
# members, never counted against the port quota (Neutron gives them no project).
HIDDEN_OWNERS = (OWNER_ROUTER_GATEWAY, OWNER_FLOATING_IP)
# Ports a network's deletion takes with it; any other port makes it a 409 NetworkInUse.
REMOVABLE_WITH_NETWORK = (OWNER_DHCP, OWNER_ROUTER_INTERFACE)

# The name of the security group every project gets on first need.
DEFAULT_SECURITY_GROUP = "default"

# Neutron's limits on tags.
MAX_TAG_LENGTH = 60
MAX_TAGS = 50

"""The scheduling pass's names; placement's vocabulary (resource classes, traits) is
apps/placement/choices.py."""

from apps.placement.choices import DISK_GB, MEMORY_MB, VCPU

# Classes every HostState carries even when a request does not ask for them, because the
# RAM/CPU/Disk weighers read their free amounts.
WEIGHED_RESOURCE_CLASSES: tuple[str, ...] = (VCPU, MEMORY_MB, DISK_GB)

# Lets a cold migration land on the instance's current host (Nova's trait of the same name).
TRAIT_SAME_HOST_COLD_MIGRATE = "COMPUTE_SAME_HOST_COLD_MIGRATE"

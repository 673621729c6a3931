"""Host constants."""

COMPUTE_BINARY = "computecloud-compute"
CONDUCTOR_BINARY = "computecloud-conductor"
SCHEDULER_BINARY = "computecloud-scheduler"
DEFAULT_AVAILABILITY_ZONE = "nova"
# Aggregate metadata key that puts its hosts in an availability zone (Nova's).
AZ_METADATA_KEY = "availability_zone"

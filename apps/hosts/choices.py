"""Host constants."""

COMPUTE_BINARY = "computecloud-compute"
CONDUCTOR_BINARY = "computecloud-conductor"
SCHEDULER_BINARY = "computecloud-scheduler"
# The binary names os-services shows and filters by: Nova's, which its clients look for
# (`openstack compute service set HOST nova-compute`, Tempest's `?binary=nova-compute`).
API_BINARY_NAMES = {
    COMPUTE_BINARY: "nova-compute",
    CONDUCTOR_BINARY: "nova-conductor",
    SCHEDULER_BINARY: "nova-scheduler",
}
DEFAULT_AVAILABILITY_ZONE = "nova"
# Aggregate metadata key that puts its hosts in an availability zone (Nova's).
AZ_METADATA_KEY = "availability_zone"

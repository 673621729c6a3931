"""The Compute API's network proxy routes, under ``/compute/v2.1/`` (see api/compute.py)."""

from apps.networks.api import compute
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("os-tenant-networks", compute.TenantNetworkViewSet, basename="compute-tenant-net")
router.register("os-networks", compute.NetworkViewSet, basename="compute-network")
router.register("os-security-groups", compute.SecurityGroupViewSet, basename="compute-secgroup")
router.register(
    "os-security-group-rules", compute.SecurityGroupRuleViewSet, basename="compute-secgroup-rule"
)
router.register(
    r"servers/(?P<server_id>[^/]+)/os-security-groups",
    compute.ServerSecurityGroupViewSet,
    basename="compute-server-secgroup",
)

urlpatterns = router.urls

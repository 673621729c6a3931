"""The Compute API's image proxy routes, under ``/compute/v2.1/`` (see api/compute.py)."""

from apps.images.api import compute
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("images", compute.ComputeImageViewSet, basename="compute-image")
router.register(
    r"images/(?P<image_id>[^/]+)/metadata",
    compute.ComputeImageMetadataViewSet,
    basename="compute-image-meta",
)

urlpatterns = router.urls

"""The Compute API's volume proxy routes, under ``/compute/v2.1/`` (see api/compute.py)."""

from apps.volumes.api import compute
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("os-volumes", compute.VolumeViewSet, basename="compute-volume")
router.register("os-snapshots", compute.SnapshotViewSet, basename="compute-volume-snapshot")

urlpatterns = router.urls

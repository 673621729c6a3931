"""Block-storage API routes under ``/volume/`` (Cinder v3 paths; the catalog URL is
``…/volume/v3``, without the project id)."""

from django.urls import URLPattern, URLResolver, path, re_path

from apps.volumes.api import views
from computecloud.api.routers import OpenStackRouter
from computecloud.api.unknown import UnknownPathView

router = OpenStackRouter()
router.register("v3/volumes", views.VolumeViewSet, basename="volume")
router.register("v3/snapshots", views.SnapshotViewSet, basename="volume-snapshot")
router.register("v3/types", views.VolumeTypeViewSet, basename="volume-type")
router.register("v3/os-quota-sets", views.QuotaSetViewSet, basename="volume-quota-set")

urlpatterns: list[URLPattern | URLResolver] = [
    # version discovery (no token)
    path("", views.VolumeVersionsView.as_view(), name="volume-versions"),
    re_path(r"^v3/?$", views.VolumeV3View.as_view(), name="volume-v3"),
    path("v3/volumes/<str:volume_id>/metadata/<str:key>", views.VolumeMetadataItemView.as_view()),
    re_path(r"^v3/limits/?$", views.LimitsView.as_view()),
    re_path(r"^v3/os-availability-zone/?$", views.AvailabilityZoneView.as_view()),
    re_path(r"^v3/extensions/?$", views.ExtensionsView.as_view()),
    *router.urls,
    # anything else under /volume: a 404 in JSON, not Django's page
    re_path(r"^.*$", UnknownPathView.as_view()),
]

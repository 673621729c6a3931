from apps.servers.api import views
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("servers", views.ServerViewSet, basename="server")
router.register(
    r"servers/(?P<server_id>[^/]+)/metadata", views.MetadataViewSet, basename="server-meta"
)
router.register(r"servers/(?P<server_id>[^/]+)/tags", views.TagViewSet, basename="server-tag")
router.register(r"servers/(?P<server_id>[^/]+)/ips", views.IpsViewSet, basename="server-ip")
router.register(
    r"servers/(?P<server_id>[^/]+)/os-instance-actions",
    views.InstanceActionViewSet,
    basename="server-action",
)

urlpatterns = router.urls

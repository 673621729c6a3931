from apps.consoles.api import views
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
# POST /servers/{id}/remote-consoles (2.6+)
router.register(
    r"servers/(?P<server_id>[^/]+)/remote-consoles",
    views.RemoteConsoleViewSet,
    basename="remote-console",
)
# GET /os-console-auth-tokens/{token} (admin)
router.register("os-console-auth-tokens", views.ConsoleAuthTokenViewSet, basename="console-token")

urlpatterns = router.urls

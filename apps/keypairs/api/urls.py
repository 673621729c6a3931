from apps.keypairs.api import views
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("os-keypairs", views.KeypairViewSet, basename="keypair")

urlpatterns = router.urls

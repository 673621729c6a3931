from apps.flavors.api import views
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("flavors", views.FlavorViewSet, basename="flavor")
router.register(
    r"flavors/(?P<flavor_id>[^/]+)/os-extra_specs", views.ExtraSpecsViewSet, basename="extra-spec"
)

urlpatterns = router.urls

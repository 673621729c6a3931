from apps.hosts.api import views
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("os-services", views.ServiceViewSet, basename="service")
router.register("os-hosts", views.HostViewSet, basename="host")
router.register("os-hypervisors", views.HypervisorViewSet, basename="hypervisor")
router.register("os-availability-zone", views.AvailabilityZoneViewSet, basename="az")
router.register("os-aggregates", views.AggregateViewSet, basename="aggregate")

urlpatterns = router.urls

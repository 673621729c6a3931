"""Network API routes under ``/network/`` (Neutron v2.0 paths; the catalog URL is
unversioned, clients append ``v2.0``)."""

from django.urls import URLPattern, URLResolver, path, re_path

from apps.networks.api import views
from computecloud.api.routers import OpenStackRouter
from computecloud.api.unknown import UnknownPathView

router = OpenStackRouter()
router.register("v2.0/networks", views.NetworkViewSet, basename="network")
router.register("v2.0/subnets", views.SubnetViewSet, basename="subnet")
router.register("v2.0/ports", views.PortViewSet, basename="port")
router.register("v2.0/security-groups", views.SecurityGroupViewSet, basename="security-group")
router.register(
    "v2.0/security-group-rules", views.SecurityGroupRuleViewSet, basename="security-group-rule"
)
router.register("v2.0/routers", views.RouterViewSet, basename="router")
router.register("v2.0/floatingips", views.FloatingIPViewSet, basename="floatingip")
router.register("v2.0/quotas", views.QuotaViewSet, basename="network-quota")
router.register("v2.0/extensions", views.ExtensionViewSet, basename="network-extension")

tag_routes: list[URLPattern | URLResolver] = []
for collection in views.TAGGED:
    tag_view = views.TagsView.for_collection(collection)
    tag_routes += [
        path(f"v2.0/{collection}/<str:resource_id>/tags", tag_view),
        path(f"v2.0/{collection}/<str:resource_id>/tags/<str:tag>", tag_view),
    ]

urlpatterns: list[URLPattern | URLResolver] = [
    # version discovery (no token) and the collections
    path("", views.NetworkVersionsView.as_view(), name="network-versions"),
    path("v2.0", views.NetworkResourcesView.as_view()),
    path("v2.0/", views.NetworkResourcesView.as_view(), name="network-v2.0"),
    *tag_routes,
    *router.urls,
    # anything else under /network: Neutron's 404 in JSON, not Django's page
    re_path(r"^.*$", UnknownPathView.as_view(error_style="neutron")),
]

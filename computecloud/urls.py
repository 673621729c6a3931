"""The URL map: one prefix per service, as the catalog lists them.

- ``/identity/``   Keystone v3 subset (apps.identity)
- ``/compute/``    Compute API v2.1 (flavors, servers, keypairs, quotas, hosts, consoles, ...)
- ``/image/``      Glance v2 subset (apps.images)
- ``/network/``    Neutron v2.0 subset (apps.networks)
- ``/volume/``     Cinder v3 subset (apps.volumes)
- ``/admin/``      Django admin, ``/api/schema/`` OpenAPI, ``/`` the dashboard
- ``/metrics``     Prometheus' scrape, for operators only (computecloud/metrics_web.py)
The metadata service has its own listener and URLconf (apps.metadata.urls).
"""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.identity import signin
from computecloud import metrics_web
from computecloud.api.unknown import UnknownPathView
from computecloud.api.versions import ComputeVersionsView, ComputeVersionView

compute_v21: list[URLPattern | URLResolver] = [
    path("", include("apps.flavors.api.urls")),
    path("", include("apps.keypairs.api.urls")),
    path("", include("apps.quotas.api.urls")),
    path("", include("apps.hosts.api.urls")),
    path("", include("apps.scheduler.api.urls")),
    path("", include("apps.servers.api.urls")),
    path("", include("apps.consoles.api.urls")),
    path("", include("apps.images.api.compute_urls")),
    path("", include("apps.networks.api.compute_urls")),
    path("", include("apps.volumes.api.compute_urls")),
    re_path(r"^.*$", UnknownPathView.as_view()),  # Nova's 404, not Django's page
]

urlpatterns = [
    # Clients GET the service roots exactly as typed: ".../identity" and ".../identity/".
    re_path(r"^identity(?=/|$)/?", include("apps.identity.api.urls")),
    path("compute", ComputeVersionsView.as_view()),
    path("compute/", ComputeVersionsView.as_view(), name="compute-versions"),
    path("compute/v2.1", ComputeVersionView.as_view()),
    path("compute/v2.1/", ComputeVersionView.as_view(), name="compute-v2.1"),
    path("compute/v2", ComputeVersionView.as_view(version_id="v2.0")),
    path("compute/v2/", ComputeVersionView.as_view(version_id="v2.0")),
    path("compute/v2.1/", include(compute_v21)),
    path("compute/v2/", include(compute_v21)),
    re_path(r"^image(?=/|$)/?", include("apps.images.api.urls")),
    re_path(r"^network(?=/|$)/?", include("apps.networks.api.urls")),
    re_path(r"^volume(?=/|$)/?", include("apps.volumes.api.urls")),
    # The sign-in pages check passwords through the identity throttle (apps.identity.signin);
    # listed before the admin's and DRF's own routes for the same paths, which they replace.
    path("admin/login/", signin.admin_login),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/login/", signin.api_login),
    path("api-auth/", include("rest_framework.urls")),
    # Prometheus' scrape, for operators' addresses and token only (computecloud/metrics_web.py).
    path("metrics", metrics_web.metrics_view, name="metrics"),
    path("", include("apps.dashboard.urls")),
]

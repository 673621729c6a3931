"""The project URLconf plus the bare service roots real clients discover: ``/identity`` and
``/image`` without a trailing slash. ``computecloud/urls.py`` mounts both as ``name/``, which
keystoneauth's GET of ``OS_AUTH_URL`` (and of the catalog's image URL) does not reach; until it
mounts them as ``re_path(r"^identity(?=/|$)/?", include(...))``, the client fixtures use this."""

from django.urls import include, re_path

from computecloud import urls as project_urls

urlpatterns = [
    re_path(r"^identity(?=/|$)/?", include("apps.identity.api.urls")),
    re_path(r"^image(?=/|$)/?", include("apps.images.api.urls")),
    *project_urls.urlpatterns,
]

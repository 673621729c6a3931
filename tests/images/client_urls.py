"""The project URLconf plus the bare service roots real clients discover: ``/identity`` and
``/image`` without a trailing slash (``computecloud/urls.py`` mounts both at ``name/``, which
keystoneauth's GET of the catalog URL does not reach). Used by the client tests until the
shared URLconf mounts them with ``re_path(r"^image(?=/|$)/?", ...)``."""

from django.urls import include, re_path

from computecloud import urls as project_urls

urlpatterns = [
    re_path(r"^identity(?=/|$)/?", include("apps.identity.api.urls")),
    re_path(r"^image(?=/|$)/?", include("apps.images.api.urls")),
    *project_urls.urlpatterns,
]

"""The project URLconf plus the identity root without a trailing slash.

``computecloud/urls.py`` mounts identity at ``path("identity/", ...)``, so ``GET /identity``
(what keystoneauth sends for ``OS_AUTH_URL=.../identity``) finds no route. Until the shared
URLconf mounts it as ``re_path(r"^identity(?=/|$)/?", include("apps.identity.api.urls"))``,
tests that need the bare root use this URLconf (see `identity_root_route`).
"""

from django.urls import include, re_path

from computecloud import urls as project_urls

urlpatterns = [
    re_path(r"^identity(?=/|$)/?", include("apps.identity.api.urls")),
    *project_urls.urlpatterns,
]

"""The project URLconf plus the image root without a trailing slash.

``computecloud/urls.py`` mounts images at ``path("image/", ...)``, so ``GET /image`` (the
catalog URL keystoneauth discovers) finds no route. Until the shared URLconf mounts it as
``re_path(r"^image(?=/|$)/?", include("apps.images.api.urls"))``, tests that need the bare root
use this URLconf (see `image_root_route`).
"""

from django.urls import include, re_path

from computecloud import urls as project_urls

urlpatterns = [
    re_path(r"^image(?=/|$)/?", include("apps.images.api.urls")),
    *project_urls.urlpatterns,
]

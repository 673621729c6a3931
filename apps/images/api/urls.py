"""Image API routes under ``/image/`` (Glance v2 paths)."""

from django.urls import URLPattern, URLResolver, path, re_path

from apps.images.api.views import (
    ImageFileView,
    ImageImportView,
    ImageSchemaView,
    ImageTasksView,
    ImageVersionsView,
    ImageViewSet,
    ImportInfoView,
)
from computecloud.api.routers import OpenStackRouter
from computecloud.api.unknown import UnknownPathView

router = OpenStackRouter()
# images
router.register("v2/images", ImageViewSet, basename="image")

urlpatterns: list[URLPattern | URLResolver] = [
    # version discovery (no token)
    path("", ImageVersionsView.as_view(), name="image-versions"),
    path("versions", ImageVersionsView.as_view(status_code=200)),
    path("v2", ImageVersionsView.as_view(status_code=200)),
    path("v2/", ImageVersionsView.as_view(status_code=200)),
    # image data and import
    path("v2/images/<str:image_id>/file", ImageFileView.as_view(), name="image-file"),
    path("v2/images/<str:image_id>/import", ImageImportView.as_view(), name="image-import"),
    path("v2/images/<str:image_id>/tasks", ImageTasksView.as_view(), name="image-tasks"),
    # schemas and discovery of import methods
    path("v2/schemas/image", ImageSchemaView.as_view(), name="image-schema"),
    path("v2/schemas/images", ImageSchemaView.as_view(collection=True)),
    path("v2/info/import", ImportInfoView.as_view(), name="image-import-info"),
    *router.urls,
    re_path(r"^.*$", UnknownPathView.as_view(error_style="keystone")),
]

from django.urls import URLPattern, URLResolver, re_path

from apps.quotas.api import views
from computecloud.api.routers import OpenStackRouter

router = OpenStackRouter()
router.register("os-quota-sets", views.QuotaSetViewSet, basename="quota-set")

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^limits/?$", views.LimitsView.as_view(), name="limits"),
    *router.urls,
]

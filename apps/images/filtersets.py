"""Image list filters, with Glance v2's query names and defaults.

The queryset handed in is already limited to what the caller may see
(`Image.objects.visible_to`); these filters only narrow it. Defaults as Glance's: without
``visibility`` other projects' community images are left out; without ``os_hidden`` hidden
images are. Any query name that is not a known filter matches an extra property
(``?hw_disk_bus=virtio``).
"""

import uuid
from typing import Any

import django_filters

from apps.identity.context import RequestContext
from apps.images.exceptions import ImageInvalid
from apps.images.models import Image, ImageQuerySet

VISIBILITY_FILTERS = ("public", "private", "shared", "community", "all")
# Query names that are not filters: paging and sorting (read by the view), and Glance's
# member_status, which has nothing to select without image members.
NON_FILTER_PARAMS = frozenset(
    {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "format"}
)


class ImageFilterSet(django_filters.FilterSet):
    id = django_filters.CharFilter(method="filter_id")
    name = django_filters.CharFilter()
    status = django_filters.CharFilter()
    owner = django_filters.CharFilter(field_name="owner_id")
    disk_format = django_filters.CharFilter()
    container_format = django_filters.CharFilter()
    size_min = django_filters.NumberFilter(field_name="size", lookup_expr="gte")
    size_max = django_filters.NumberFilter(field_name="size", lookup_expr="lte")
    protected = django_filters.BooleanFilter()
    os_hidden = django_filters.BooleanFilter()
    tag = django_filters.CharFilter(method="filter_tags")
    visibility = django_filters.CharFilter(method="filter_visibility")

    class Meta:
        model = Image
        fields = [
            "id",
            "name",
            "status",
            "owner",
            "disk_format",
            "container_format",
            "size_min",
            "size_max",
            "protected",
            "os_hidden",
            "tag",
            "visibility",
        ]

    @property
    def context(self) -> RequestContext:
        context = self.request.auth if self.request is not None else None
        if not isinstance(context, RequestContext):
            raise TypeError("ImageFilterSet needs the request of an authenticated caller")
        return context

    def filter_id(self, queryset: ImageQuerySet, name: str, value: str) -> ImageQuerySet:
        try:
            return queryset.filter(pk=uuid.UUID(value))
        except ValueError:
            return queryset.none()

    def filter_tags(self, queryset: ImageQuerySet, name: str, value: str) -> ImageQuerySet:
        # ?tag=a&tag=b: images carrying every one of them.
        tags = [tag.strip() for tag in self.data.getlist("tag")]
        return queryset.filter(tags__contains=tags)

    def filter_visibility(self, queryset: ImageQuerySet, name: str, value: str) -> ImageQuerySet:
        if value not in VISIBILITY_FILTERS:
            raise ImageInvalid(reason=f"Invalid visibility value: {value}")
        if value == "all":
            return queryset
        queryset = queryset.filter(visibility=value)
        if value in ("private", "shared") and not self.context.is_admin:
            queryset = queryset.filter(owner_id=self.context.project_id)
        return queryset

    def filter_queryset(self, queryset: Any) -> Any:
        queryset = super().filter_queryset(queryset)
        if not self.data.get("visibility"):
            queryset = queryset.listed_for(self.context)
        if "os_hidden" not in self.data:
            queryset = queryset.filter(os_hidden=False)
        for key in self.data:
            if key not in self.filters and key not in NON_FILTER_PARAMS:
                queryset = queryset.filter(properties__contains={key: self.data[key]})
        return queryset

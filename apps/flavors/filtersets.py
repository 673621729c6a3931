"""Flavor list filters (Nova's query names), shared by the API and the dashboard."""

import django_filters
from django.db.models import QuerySet

from apps.flavors.models import Flavor


class FlavorFilterSet(django_filters.FilterSet):
    minRam = django_filters.NumberFilter(field_name="memory_mb", lookup_expr="gte")  # noqa: N815
    minDisk = django_filters.NumberFilter(field_name="root_gb", lookup_expr="gte")  # noqa: N815

    class Meta:
        model = Flavor
        fields = ["minRam", "minDisk"]

    def filter_queryset(self, queryset: QuerySet[Flavor]) -> QuerySet[Flavor]:
        return super().filter_queryset(queryset)

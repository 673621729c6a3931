"""Keystone's list filters (its query names) for domains, projects and users.

`enabled` is read as Keystone reads a flag: present with `0`, `false`, `no` or `off` (any
case) is false, present with anything else, an empty value too, is true; absent filters
nothing. django-filter hands a filter the same empty value for "absent" and "empty", so the
flag is read from the query itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.db.models import QuerySet

from apps.identity.models import Domain, Project, User

FALSE_WORDS = ("0", "false", "no", "off")


def keystone_flag(raw: str | None) -> bool | None:
    """A query flag: None when absent, else whether it says true."""
    if raw is None:
        return None
    return raw.lower() not in FALSE_WORDS


class KeystoneFilterSet(django_filters.FilterSet):
    """`name` (exact) and the `enabled` flag, on the model's own field names."""

    name_field: ClassVar[str] = "name"
    enabled_field: ClassVar[str] = "enabled"

    name = django_filters.CharFilter(method="filter_name")

    def filter_name(self, queryset: QuerySet[Any], _: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{self.name_field: value})

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        enabled = keystone_flag(self.data.get("enabled"))
        if enabled is not None:
            queryset = queryset.filter(**{self.enabled_field: enabled})
        return queryset


class DomainFilterSet(KeystoneFilterSet):
    class Meta:
        model = Domain
        fields = ["name"]


class ProjectFilterSet(KeystoneFilterSet):
    domain_id = django_filters.CharFilter(field_name="domain_id")

    class Meta:
        model = Project
        fields = ["name", "domain_id"]


class UserFilterSet(KeystoneFilterSet):
    name_field = "username"
    enabled_field = "is_active"
    domain_id = django_filters.CharFilter(field_name="domain_id")

    class Meta:
        model = User
        fields = ["name", "domain_id"]

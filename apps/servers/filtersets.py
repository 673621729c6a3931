"""Server list filters with Nova's query names, shared by the API and the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django.db import DataError, connection, transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from apps.networks import services as networks
from apps.servers.choices import TaskState
from apps.servers.models import Server
from apps.servers.states import VM_STATES_BY_STATUS
from computecloud.exceptions import InvalidInput

# The filters a caller without os_compute_api:servers:allow_all_filters (admins have it by
# default) may use, by the microversion that opened them; Nova silently drops every other
# one (host, node, project_id, deleted, uuid, ...: nova's _get_server_search_options).
USER_FILTERS_SINCE: tuple[tuple[tuple[int, int], frozenset[str]], ...] = (
    (
        (2, 1),
        frozenset({"reservation_id", "name", "status", "image", "flavor", "ip", "changes-since"}),
    ),
    ((2, 5), frozenset({"ip6"})),
    ((2, 26), frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})),
    ((2, 66), frozenset({"changes-before"})),
    ((2, 73), frozenset({"locked"})),
    (
        (2, 83),
        frozenset(
            {
                "availability_zone",
                "config_drive",
                "key_name",
                "created_at",
                "launched_at",
                "terminated_at",
                "power_state",
                "task_state",
                "vm_state",
                "progress",
                "user_id",
            }
        ),
    ),
    ((2, 90), frozenset({"hostname"})),
)


def user_filters(params: QueryDict, version: Any) -> QueryDict:
    """The part of the query `params` a caller without allow_all_filters may filter by at
    `version` (paging and sort parameters are read apart, from the whole query)."""
    usable: set[str] = set()
    for since, names in USER_FILTERS_SINCE:
        if version >= since:
            usable |= names
    kept = QueryDict(mutable=True)
    for key in params:
        if key in usable:
            kept.setlist(key, params.getlist(key))
    return kept


def _timestamp(value: str, name: str) -> datetime:
    parsed = parse_datetime(value.replace(" ", "+"))
    if parsed is None:
        raise InvalidInput(f"Invalid filter field: {name}. The value must be an ISO 8601 time.")
    return parsed


def _tag_list(value: str) -> list[str]:
    return [t for t in value.split(",") if t]


def _database_regex(value: str, field: str) -> str:
    """`value` if PostgreSQL, which runs the match, accepts it as a regular expression. Its
    dialect is not Python's (``[[:alpha:]]`` and ``a{1000}`` differ), and an invalid one only
    fails when a row is matched, as a 500; so it is tried once here, on an empty string."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [value])
    except DataError:
        raise InvalidInput(f"Invalid regular expression in {field} filter: {value}") from None
    return value


class ServerFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(method="filter_name")
    status = django_filters.CharFilter(method="filter_status")
    flavor = django_filters.CharFilter(field_name="flavor_id")
    image = django_filters.CharFilter(field_name="image_ref")
    reservation_id = django_filters.CharFilter()
    availability_zone = django_filters.CharFilter()
    key_name = django_filters.CharFilter()
    description = django_filters.CharFilter(method="filter_description")
    locked = django_filters.BooleanFilter()
    host = django_filters.CharFilter()
    node = django_filters.CharFilter()
    project_id = django_filters.CharFilter()
    tenant_id = django_filters.CharFilter(field_name="project_id")
    uuid = django_filters.CharFilter()
    launched_on = django_filters.CharFilter()
    ip = django_filters.CharFilter(method="filter_ip")
    ip6 = django_filters.CharFilter(method="filter_ip")

    class Meta:
        model = Server
        fields: list[str] = []

    def filter_name(self, queryset: QuerySet[Server], name: str, value: str) -> QuerySet[Server]:
        return queryset.filter(name__regex=_database_regex(value, "name"))

    def filter_description(
        self, queryset: QuerySet[Server], name: str, value: str
    ) -> QuerySet[Server]:
        return queryset.filter(description__regex=_database_regex(value, "description"))

    def filter_ip(self, queryset: QuerySet[Server], name: str, value: str) -> QuerySet[Server]:
        """A regular expression over the fixed addresses of the servers' ports (IPv4 for
        ``ip``, IPv6 for ``ip6``), as Nova matches them."""
        pattern = _database_regex(value, name)
        version = 6 if name == "ip6" else 4
        return queryset.filter(uuid__in=networks.instances_with_address(pattern, version=version))

    def filter_status(self, queryset: QuerySet[Server], name: str, value: str) -> QuerySet[Server]:
        condition = Q()
        for status in (s.strip().upper() for s in self.data.getlist("status")):
            vm_states = VM_STATES_BY_STATUS.get(status)
            if status in ("REBOOT", "HARD_REBOOT", "RESIZE", "MIGRATING", "REBUILD"):
                condition |= Q(task_state__in=_TASKS_BY_STATUS[status])
            elif vm_states:
                condition |= Q(vm_state__in=vm_states)
            else:
                # Nova answers an unknown status with an empty list for users.
                condition |= Q(pk__in=[])
        return queryset.filter(condition)


_TASKS_BY_STATUS = {
    "REBOOT": [TaskState.REBOOTING, TaskState.REBOOT_PENDING, TaskState.REBOOT_STARTED],
    "HARD_REBOOT": [
        TaskState.REBOOTING_HARD,
        TaskState.REBOOT_PENDING_HARD,
        TaskState.REBOOT_STARTED_HARD,
    ],
    "RESIZE": [
        TaskState.RESIZE_PREP,
        TaskState.RESIZE_MIGRATING,
        TaskState.RESIZE_MIGRATED,
        TaskState.RESIZE_FINISH,
    ],
    "MIGRATING": [TaskState.MIGRATING],
    "REBUILD": [TaskState.REBUILDING, TaskState.REBUILD_SPAWNING],
}


def apply_special_filters(queryset: Any, params: Any) -> Any:
    """Filters django-filter cannot name: dashed keys (changes-since) and tag sets."""
    if since := params.get("changes-since"):
        queryset = queryset.filter(updated_at__gte=_timestamp(since, "changes-since"))
    if before := params.get("changes-before"):
        queryset = queryset.filter(updated_at__lte=_timestamp(before, "changes-before"))
    if tags := params.get("tags"):
        for tag in _tag_list(tags):
            queryset = queryset.filter(tags__tag=tag)
    if tags_any := params.get("tags-any"):
        queryset = queryset.filter(tags__tag__in=_tag_list(tags_any))
    if not_tags := params.get("not-tags"):
        wanted = _tag_list(not_tags)
        having_all = Server.with_deleted.all()
        for tag in wanted:
            having_all = having_all.filter(tags__tag=tag)
        queryset = queryset.exclude(pk__in=having_all.values("pk"))
    if not_any := params.get("not-tags-any"):
        queryset = queryset.exclude(tags__tag__in=_tag_list(not_any))
    return queryset.distinct() if (tags_any or tags) else queryset

"""Neutron's list queries: filters, tag filters, ``fields``, sorting and pagination.

- A filter is ``?attr=value``; repeating it means any of the values (OR); different
  attributes must all hold (AND). Booleans compare case-insensitively (``True``, ``false``),
  and a value that is no boolean (or no number, for a number) is a 400. A value that cannot
  be an id matches nothing. Unknown parameters are ignored, as Neutron without strict filter
  validation does.
- ``tags=a,b`` (all of), ``tags-any``, ``not-tags``, ``not-tags-any``.
- ``fields=`` (repeatable) keeps only those keys of each item.
- ``sort_key``/``sort_dir`` pairs; ``limit`` and ``marker`` (an id the caller sees). A page cut
  short by ``limit`` carries ``<collection>_links`` with the ``next`` page's href, so a client
  that follows it (or re-asks with the last id) stops on the first short or empty page.
"""

import ipaddress
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import QueryDict

from apps.networks.exceptions import InvalidInput

MAX_LIMIT = 1000
TRUE = {"true", "1"}
FALSE = {"false", "0"}


@dataclass(frozen=True)
class Filter:
    """One query attribute: the ORM lookup it filters and its kind ("str", "bool", "int",
    "uuid", "ip"), or `method`, which builds the condition for one value itself."""

    lookup: str = ""
    kind: str = "str"
    method: Callable[[str], Q] | None = None


def to_bool(value: Any, name: str) -> bool:
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise InvalidInput(f"'{value}' cannot be converted to boolean for {name}")


def as_ip(raw: str) -> str | None:
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _value(raw: str, kind: str, name: str) -> Any:
    """The typed value, or None for an id or address that cannot be one (it matches
    nothing)."""
    if kind == "bool":
        return to_bool(raw, name)
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"'{raw}' is not an integer for {name}") from None
    if kind == "ip":
        return as_ip(raw)
    if kind == "uuid":
        try:
            return uuid.UUID(raw)
        except ValueError:
            return None
    return raw


def apply_filters(
    queryset: QuerySet[Any], params: QueryDict, filters: dict[str, Filter]
) -> QuerySet[Any]:
    for name, spec in filters.items():
        raws = params.getlist(name)
        if not raws:
            continue
        if spec.method is not None:
            condition = Q()
            for raw in raws:
                condition |= spec.method(raw)
            queryset = queryset.filter(condition)
            continue
        values = [v for v in (_value(raw, spec.kind, name) for raw in raws) if v is not None]
        if not values:
            return queryset.none()
        queryset = queryset.filter(**{f"{spec.lookup}__in": values})
    return apply_tag_filters(queryset, params)


def _tags(params: QueryDict, name: str) -> list[str]:
    return [tag for raw in params.getlist(name) for tag in raw.split(",") if tag]


def apply_tag_filters(queryset: QuerySet[Any], params: QueryDict) -> QuerySet[Any]:
    if tags := _tags(params, "tags"):
        queryset = queryset.filter(tags__contains=tags)
    if tags := _tags(params, "tags-any"):
        queryset = queryset.filter(tags__overlap=tags)
    if tags := _tags(params, "not-tags"):
        queryset = queryset.exclude(tags__contains=tags)
    if tags := _tags(params, "not-tags-any"):
        queryset = queryset.exclude(tags__overlap=tags)
    return queryset


def trim(body: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only the asked-for keys (all of them when none is asked for)."""
    wanted = [f for f in fields if f]
    if not wanted:
        return body
    return {key: value for key, value in body.items() if key in wanted}


def _order(params: QueryDict, sort_keys: dict[str, str]) -> list[str]:
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if dirs and len(dirs) != len(keys):
        raise InvalidInput("The number of sort_keys and sort_dirs must be same")
    order: list[str] = []
    for index, key in enumerate(keys):
        if key not in sort_keys:
            raise InvalidInput(f"{key} is an invalid attribute for sort_keys")
        direction = dirs[index].lower() if dirs else "asc"
        if direction not in ("asc", "desc"):
            raise InvalidInput(f"{dirs[index]} is an invalid value for sort_dirs")
        field = sort_keys[key]
        order.append(f"-{field}" if direction == "desc" else field)
    fields = {term.lstrip("-") for term in order}
    if "created_at" not in fields and not order:
        order.append("created_at")
    if "id" not in fields:
        order.append("id")
    return order


def _limit(params: QueryDict) -> int | None:
    raw = params.get("limit")
    if raw is None or raw == "":
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput(f"'{raw}' is not an integer") from None
    if limit < 0:
        raise InvalidInput(f"Limit must be an integer 0 or greater and not '{limit}'")
    return None if limit == 0 else min(limit, MAX_LIMIT)


def _after(queryset: QuerySet[Any], marker: Any, order: list[str]) -> QuerySet[Any]:
    condition = Q()
    equal = Q()
    for term in order:
        field = term.lstrip("-")
        value = getattr(marker, field)
        lookup = "lt" if term.startswith("-") else "gt"
        condition |= equal & Q(**{f"{field}__{lookup}": value})
        equal &= Q(**{field: value})
    return queryset.filter(condition)


def page(
    queryset: QuerySet[Any],
    params: QueryDict,
    *,
    scope_queryset: QuerySet[Any],
    sort_keys: dict[str, str],
    collection: str,
    base_url: str,
) -> tuple[list[Any], dict[str, Any]]:
    """The rows of one page and the ``<collection>_links`` to add to the body (or {})."""
    order = _order(params, sort_keys)
    queryset = queryset.order_by(*order)
    marker_id = params.get("marker")
    if marker_id:
        try:
            marker = scope_queryset.filter(pk=uuid.UUID(marker_id)).first()
        except ValueError:
            marker = None
        if marker is None:
            raise InvalidInput(f"marker {marker_id} could not be found")
        queryset = _after(queryset, marker, order)
    limit = _limit(params)
    if limit is None:
        return list(queryset), {}
    rows = list(queryset[:limit])
    if len(rows) < limit:
        return rows, {}
    query = [(k, v) for k in params for v in params.getlist(k) if k != "marker"]
    query.append(("marker", str(rows[-1].pk)))
    href = f"{base_url}?{urlencode(query)}"
    return rows, {f"{collection}_links": [{"rel": "next", "href": href}]}

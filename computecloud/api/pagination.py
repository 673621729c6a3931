"""Nova-style paging: ``limit`` and ``marker`` (the id of the last item seen), keyset based.

A page is the rows strictly after the marker in the list's sort order, so a page costs the
same whatever its depth. When a page is full, the body carries ``<resource>_links`` with a
``next`` href, as Nova answers.
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework.request import Request

from computecloud.exceptions import InvalidInput

# Nova's osapi_max_limit: the most items one page may hold.
MAX_LIMIT = 1000


def parse_limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput(reason="limit param must be an integer") from None
    if limit < 0:
        raise InvalidInput(reason="limit param must be positive")
    return min(limit, MAX_LIMIT)


# PostgreSQL's OFFSET is a bigint: anything larger is a client's mistake, not a query to run.
MAX_OFFSET = 2**63 - 1 - MAX_LIMIT


def parse_offset(request: Request) -> int:
    """``?offset=`` as a count of rows to skip (0 when absent); a 400 unless it is a whole
    number PostgreSQL can take."""
    raw = request.query_params.get("offset")
    if raw is None:
        return 0
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(reason="offset param must be a non-negative integer")
    offset = int(raw)
    if offset > MAX_OFFSET:
        raise InvalidInput(reason=f"offset param must be at most {MAX_OFFSET}")
    return offset


def after_marker(queryset: QuerySet[Any], marker_obj: Model, order: Sequence[str]) -> QuerySet[Any]:
    """Rows after `marker_obj` in the order given by `order` (Django order_by strings).

    `order` must end with a unique key so that the order is total.
    """
    condition = Q()
    equal = Q()
    for term in order:
        field = term.lstrip("-")
        value = getattr(marker_obj, field)
        lookup = "lt" if term.startswith("-") else "gt"
        condition |= equal & Q(**{f"{field}__{lookup}": value})
        equal &= Q(**{field: value})
    return queryset.filter(condition)


def paginate(
    request: Request,
    queryset: QuerySet[Any],
    *,
    order: Sequence[str],
    marker_lookup: str,
    marker_scope: QuerySet[Any] | None = None,
    marker_not_found: str = "marker [%s] not found",
) -> tuple[list[Any], int]:
    """One page of `queryset` (ordered by `order`) after ``?marker=``; returns (rows, limit).

    The marker is looked up in `marker_scope` (by default the listed rows themselves): the
    rows the caller may see, never the whole table. Another project's id must answer as an
    unknown one does, or the 400-or-200 difference tells who has which ids.
    """
    queryset = queryset.order_by(*order)
    marker = request.query_params.get("marker")
    if marker:
        scope = queryset if marker_scope is None else marker_scope
        try:
            marker_obj = scope.filter(**{marker_lookup: marker}).first()
        except ValidationError:  # not even of the key's type (a uuid column and "abc")
            marker_obj = None
        if marker_obj is None:
            raise InvalidInput(marker_not_found % marker)
        queryset = after_marker(queryset, marker_obj, order)
    limit = parse_limit(request)
    return list(queryset[:limit]), limit


def next_links(
    request: Request, rows: list[Any], limit: int, *, base_url: str, marker_of: Any, name: str
) -> dict[str, list[dict[str, str]]]:
    """``{"<name>_links": [{"rel": "next", "href": ...}]}`` when the page is full, else {}."""
    if not rows or len(rows) < limit:
        return {}
    params = {k: v for k, v in request.query_params.items() if k != "marker"}
    params["marker"] = str(marker_of(rows[-1]))
    return {f"{name}_links": [{"rel": "next", "href": f"{base_url}?{urlencode(params)}"}]}

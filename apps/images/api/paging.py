"""Glance's list paging: ``limit``/``marker`` keyset pages, its two sort syntaxes, and the
``first``/``next`` links written relative to the image endpoint (``/v2/images?...``), which
openstacksdk follows by stripping the ``/v2`` it already has.
"""

import uuid
from typing import Any

from django.db.models import Value
from django.db.models.functions import Coalesce

from apps.identity.context import RequestContext
from apps.images.choices import DEFAULT_SORT, SORT_KEYS
from apps.images.exceptions import ImageInvalid
from apps.images.models import Image, ImageQuerySet
from computecloud.api.pagination import after_marker
from computecloud.conf import cc_settings

# Nullable sort columns are compared through a non-null stand-in, so that the keyset
# condition after a marker is plain < and > comparisons (NULL compares as unknown).
_NULL_STANDINS: dict[str, str | int] = {
    "name": "",
    "disk_format": "",
    "container_format": "",
    "size": -1,
}


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return int(cc_settings.IMAGE_LIST_LIMIT_DEFAULT)
    try:
        limit = int(raw)
    except ValueError:
        raise ImageInvalid(reason="limit param must be an integer") from None
    if limit < 0:
        raise ImageInvalid(reason="limit param must be positive")
    return min(limit, int(cc_settings.IMAGE_LIST_LIMIT_MAX))


def parse_sort(params: Any) -> list[tuple[str, str]]:
    """Glance's two syntaxes: ``sort=name:asc,size:desc``, or repeated ``sort_key`` with one
    ``sort_dir`` for all or one per key. ``id`` closes the order so that pages are stable."""
    if "sort" in params:
        if "sort_key" in params or "sort_dir" in params:
            raise ImageInvalid(reason="Old and new sorting syntax cannot be combined")
        order = []
        for item in params["sort"].split(","):
            key, _, direction = item.partition(":")
            order.append((key.strip(), (direction or "desc").strip()))
    else:
        keys = [k.strip() for k in params.getlist("sort_key")] or [DEFAULT_SORT[0][0]]
        dirs = [d.strip() for d in params.getlist("sort_dir")]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise ImageInvalid(reason="Number of sort dirs does not match the number of sort keys")
        dirs = dirs or [DEFAULT_SORT[0][1]]
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        order = list(zip(keys, dirs, strict=True))
    for key, direction in order:
        if key not in SORT_KEYS:
            raise ImageInvalid(
                reason=f"Invalid sort key: {key}. It must be one of the following: "
                f"{', '.join(SORT_KEYS)}."
            )
        if direction not in ("asc", "desc"):
            raise ImageInvalid(reason=f"Invalid sort direction: {direction}")
    if "id" not in (key for key, _ in order):
        order.append(("id", order[-1][1]))
    return order


def _ordered(queryset: ImageQuerySet, order: list[tuple[str, str]]) -> tuple[Any, list[str]]:
    """`queryset` sorted by `order`, and the order as order_by terms over the annotations."""
    annotations = {
        f"sort_{key}": Coalesce(key, Value(_NULL_STANDINS[key]))
        for key, _ in order
        if key in _NULL_STANDINS
    }
    terms = [
        ("-" if direction == "desc" else "")
        + (f"sort_{key}" if key in _NULL_STANDINS else "pk" if key == "id" else key)
        for key, direction in order
    ]
    return queryset.annotate(**annotations).order_by(*terms), terms


def page(
    queryset: ImageQuerySet, params: Any, *, context: RequestContext
) -> tuple[list[Image], bool]:
    """One page of `queryset` after ``?marker=`` in the requested order, and whether more
    follow. The marker must be an image the caller can see (else 400, as Glance)."""
    limit = parse_limit(params.get("limit"))
    order = parse_sort(params)
    rows, terms = _ordered(queryset, order)
    marker = params.get("marker")
    if marker is not None:
        visible, _ = _ordered(Image.objects.visible_to(context), order)
        marker_uuid = _uuid_or_none(marker)
        marker_image = visible.filter(pk=marker_uuid).first() if marker_uuid else None
        if marker_image is None:
            raise ImageInvalid(reason=f"Invalid marker. Image {marker} could not be found.")
        rows = after_marker(rows, marker_image, terms)
    images = list(rows[: limit + 1])
    return images[:limit], len(images) > limit and limit > 0


def list_link(params: Any, *, marker: str | None = None) -> str:
    """``/v2/images`` with the request's query, the marker replaced by `marker` (or
    dropped)."""
    query = params.copy()
    query.pop("marker", None)
    if marker is not None:
        query["marker"] = marker
    encoded = query.urlencode()
    return "/v2/images" + (f"?{encoded}" if encoded else "")


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None

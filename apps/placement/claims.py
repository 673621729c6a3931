"""Claims: allocations written under row locks, in the caller's transaction.

Locking order (every writer of allocations or inventories follows it, so no two can
deadlock on these rows):

1. whatever the caller locks first and holds to the end of its transaction: the scheduling
   pass takes a server group's advisory lock for an affinity or anti-affinity group
   (apps/scheduler/services.py), before any provider row;
2. resource-provider rows, ``SELECT ... FOR UPDATE`` of all the providers a claim touches in
   one statement ordered by primary key.

`claim` takes (2) inside a savepoint, then, in a later statement, sums the allocations
(committed by anyone who held the lock before: READ COMMITTED gives each statement a new
snapshot), checks that every planned allocation still fits with the inventories, and inserts
them, all or none. If one does not fit, it reads what the providers hold, rolls back to the
savepoint, which in PostgreSQL also releases the row locks taken after it, and raises
`ClaimConflict` with what it read: the pass re-plans and locks again in pk order without ever
holding a lock while waiting for another one out of order.

Precondition for callers: one claim per transaction. A transaction that claims twice still
holds the first claim's locks while taking the second's; PostgreSQL would detect a resulting
deadlock and abort one of the transactions.
See docs/scheduler.md, "Locking".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection, transaction

from apps.placement.capacity import ResourceView
from computecloud import metrics


@dataclass(frozen=True)
class ClaimRequest:
    provider_id: int
    consumer_uuid: str
    resources: Mapping[str, int]


class ClaimConflict(Exception):
    """A planned allocation no longer fits; `fresh` is what the locked read found."""

    def __init__(self, fresh: dict[int, dict[str, ResourceView]], provider_ids: set[int]) -> None:
        self.fresh = fresh
        self.provider_ids = provider_ids
        super().__init__(f"capacity changed on providers {sorted(provider_ids)}")


def provider_views(
    provider_ids: Iterable[int], classes: Iterable[str]
) -> dict[int, dict[str, ResourceView]]:
    """Inventories of `classes` on the providers, with usage summed from allocations."""
    ids, rcs = list(provider_ids), list(classes)
    if not ids or not rcs:
        return {}
    sql = """
        SELECT i.provider_id, i.resource_class, i.total, i.reserved, i.allocation_ratio,
               i.min_unit, i.max_unit, i.step_size,
               COALESCE((SELECT sum(a.used) FROM scheduler_allocation a
                         WHERE a.provider_id = i.provider_id
                           AND a.resource_class = i.resource_class), 0)::bigint
        FROM scheduler_inventory i
        WHERE i.provider_id = ANY(%s::bigint[]) AND i.resource_class = ANY(%s::text[])
    """
    views: dict[int, dict[str, ResourceView]] = {pid: {} for pid in ids}
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids, rcs])
        rows = cursor.fetchall()
    for pid, rc, total, reserved, ratio, mn, mx, step, used in rows:
        views[pid][rc] = ResourceView(
            total=total,
            reserved=reserved,
            allocation_ratio=ratio,
            min_unit=mn,
            max_unit=mx,
            step_size=step,
            used=used,
        )
    return views


def _misfits(
    requests: Sequence[ClaimRequest], views: dict[int, dict[str, ResourceView]]
) -> set[int]:
    """Providers on which the requests, added together, do not fit."""
    wanted: dict[int, dict[str, list[int]]] = {}
    for request in requests:
        per_class = wanted.setdefault(request.provider_id, {})
        for rc, amount in request.resources.items():
            per_class.setdefault(rc, []).append(amount)
    bad: set[int] = set()
    for provider_id, per_class in wanted.items():
        inventories = views.get(provider_id)
        if inventories is None:
            bad.add(provider_id)
            continue
        for rc, amounts in per_class.items():
            view = inventories.get(rc)
            if view is None or view.used + sum(amounts) > view.capacity:
                bad.add(provider_id)
                break
            if not all(view.fits(amount) for amount in amounts):
                bad.add(provider_id)
                break
    return bad


# Lock the providers (pk order) and drop the consumers' earlier allocations, in one round
# trip. The DELETE in the WITH runs whatever the SELECT returns.
_LOCK_SQL = """
    WITH replaced AS (
        DELETE FROM scheduler_allocation WHERE consumer_uuid = ANY(%(consumers)s::uuid[])
    )
    SELECT p.id FROM scheduler_resourceprovider p
    WHERE p.id = ANY(%(providers)s::bigint[])
    ORDER BY p.id
    FOR UPDATE
"""

# Insert every wanted allocation if, summed per provider and class with the current usage,
# they all fit (and each respects min_unit/max_unit/step_size); else insert nothing. This
# statement starts after the lock statement returned, so its snapshot holds everything
# committed by earlier lock holders (READ COMMITTED).
_INSERT_IF_FITS_SQL = """
    WITH want(provider_id, consumer_uuid, resource_class, amount) AS (
        SELECT * FROM unnest(%(w_providers)s::bigint[], %(w_consumers)s::uuid[],
                             %(w_classes)s::text[], %(w_amounts)s::bigint[])
    ),
    misfit AS (
        SELECT w.provider_id
        FROM want w
        LEFT JOIN scheduler_inventory i
          ON i.provider_id = w.provider_id AND i.resource_class = w.resource_class
        GROUP BY w.provider_id, w.resource_class, i.id, i.total, i.reserved,
                 i.allocation_ratio
        HAVING i.id IS NULL
            OR bool_or(w.amount < i.min_unit OR w.amount > i.max_unit
                       OR w.amount %% i.step_size <> 0)
            OR sum(w.amount) + COALESCE((
                   SELECT sum(a.used) FROM scheduler_allocation a
                   WHERE a.provider_id = w.provider_id
                     AND a.resource_class = w.resource_class), 0)
               > floor((i.total - i.reserved) * i.allocation_ratio)
    )
    INSERT INTO scheduler_allocation
        (provider_id, consumer_uuid, resource_class, used, project_id, user_id, created_at)
    SELECT w.provider_id, w.consumer_uuid, w.resource_class, w.amount,
           %(project_id)s, %(user_id)s, now()
    FROM want w
    WHERE NOT EXISTS (SELECT 1 FROM misfit)
"""


# A savepoint of our own around the lock and the insert: rolling back to it releases the row
# locks (and restores replaced allocations) when a claim does not fit.
_SAVEPOINT = "placement_claim"


def claim(requests: Sequence[ClaimRequest], *, project_id: str, user_id: str) -> None:
    """Write the allocations of `requests`, all or none (raises `ClaimConflict`).

    A consumer's allocations are *replaced* (Placement's PUT semantics): whatever it held
    before (a failed host on a reschedule) goes in the same savepoint.
    Precondition: inside the caller's transaction (one is opened if there is none); the
    caller's own locks (a server group's), if any, already held.

    One round trip when it fits: ``SAVEPOINT; lock (and replace); insert-if-it-fits`` sent
    together (three statements, each with its own snapshot, run in order: the insert sees
    what earlier lock holders committed). The savepoint is left to the transaction's end
    rather than spending a round trip on releasing it; a conflict rolls back to it and
    releases it. With a server-binding cursor (``OPTIONS["server_side_binding"]``), which
    cannot send several statements at once, the same statements go one by one.
    """
    if not connection.in_atomic_block:
        with transaction.atomic():
            claim(requests, project_id=project_id, user_id=user_id)
        return
    rows = [
        (request.provider_id, request.consumer_uuid, rc, amount)
        for request in requests
        for rc, amount in request.resources.items()
        if amount > 0
    ]
    if not rows:
        return
    provider_ids = sorted({r.provider_id for r in requests})
    params: dict[str, Any] = {
        "providers": provider_ids,
        "consumers": sorted({r.consumer_uuid for r in requests}),
        "w_providers": [r[0] for r in rows],
        "w_consumers": [r[1] for r in rows],
        "w_classes": [r[2] for r in rows],
        "w_amounts": [r[3] for r in rows],
        "project_id": project_id,
        "user_id": user_id,
    }
    with connection.cursor() as cursor:
        if isinstance(cursor.cursor, psycopg.ClientCursor):
            cursor.execute(f"SAVEPOINT {_SAVEPOINT}; {_LOCK_SQL}; {_INSERT_IF_FITS_SQL}", params)
            cursor.nextset()
            locked = {pid for (pid,) in cursor.fetchall()}
            cursor.nextset()
        else:
            cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
            cursor.execute(_LOCK_SQL, params)
            locked = {pid for (pid,) in cursor.fetchall()}
            cursor.execute(_INSERT_IF_FITS_SQL, params)
        if cursor.rowcount == len(rows) and locked == set(provider_ids):
            return
        # What did not fit, read under the locks, for the pass to re-plan with; then the
        # rollback releases the locks and restores the replaced allocations.
        fresh = provider_views(locked, sorted({r[2] for r in rows}))
        cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    bad = _misfits(requests, fresh) | (set(provider_ids) - locked)
    metrics.CLAIM_CONFLICTS.inc()
    raise ClaimConflict(fresh, bad or set(provider_ids))

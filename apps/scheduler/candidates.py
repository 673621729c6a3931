"""The candidate query: which resource providers could take one instance of a request.

One SQL statement returns, for each candidate provider, its inventories of the requested
classes (plus VCPU/MEMORY_MB/DISK_GB, which the weighers read) with the usage summed from
allocations. Two forms:

- the *fast* form keeps only providers with room for every requested class
  (``floor((total - reserved) * allocation_ratio) - used >= amount`` and the
  min_unit/max_unit/step_size rules), that have the required traits and none of the
  forbidden ones, and that the request does not ignore;
  with a `limit` it looks at a random sample of that many providers (Nova's
  ``max_placement_results`` with randomised candidates), so its cost does not grow with the
  fleet;
- the *full* form (`prefilter=False`) returns every provider, so that the pass can say why
  each one was rejected (the "No valid host" explanation) and cannot miss a host the sample
  left out.

Both forms keep only the forced or requested host when the request names one.

Must not: lock anything or write (claims.py does that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from apps.scheduler.choices import WEIGHED_RESOURCE_CLASSES
from apps.scheduler.host_state import CandidateRow, ResourceView
from apps.scheduler.request_spec import RequestSpec

# The SQL below names apps.scheduler.models' tables literally (greppable, and only constant
# text is ever put into it: every value is a query parameter).


def classes_for(spec: RequestSpec) -> list[str]:
    """The classes a HostState carries: requested ones, then the weighed standard ones."""
    classes = list(spec.resources)
    classes.extend(rc for rc in WEIGHED_RESOURCE_CLASSES if rc not in spec.resources)
    return classes


def _host_restrictions(spec: RequestSpec, params: dict[str, Any]) -> list[str]:
    """A forced or requested host: no other host is a candidate in either form."""
    where: list[str] = []
    host = spec.force_host or spec.requested_host
    if host:
        where.append("p.name = %(host)s")
        params["host"] = host
    if spec.force_node:
        where.append("(p.node = %(node)s OR p.name = %(node)s)")
        params["node"] = spec.force_node
    return where


def _restrictions(spec: RequestSpec, params: dict[str, Any]) -> list[str]:
    """What the fast form leaves out and the full form lets the pass explain."""
    where: list[str] = []
    if spec.ignore_hosts:
        where.append("NOT (p.name = ANY(%(ignore)s))")
        params["ignore"] = sorted(spec.ignore_hosts)
    if spec.required_traits:
        where.append(
            "(SELECT count(*) FROM scheduler_resourceprovider_traits pt"
            " JOIN scheduler_trait t ON t.id = pt.trait_id"
            " WHERE pt.resourceprovider_id = p.id AND t.name = ANY(%(required)s))"
            " = %(n_required)s"
        )
        params["required"] = sorted(spec.required_traits)
        params["n_required"] = len(spec.required_traits)
    if spec.forbidden_traits:
        where.append(
            "NOT EXISTS (SELECT 1 FROM scheduler_resourceprovider_traits pt"
            " JOIN scheduler_trait t ON t.id = pt.trait_id"
            " WHERE pt.resourceprovider_id = p.id AND t.name = ANY(%(forbidden)s))"
        )
        params["forbidden"] = sorted(spec.forbidden_traits)
    return where


def find_candidates(
    spec: RequestSpec, *, prefilter: bool = True, limit: int | None = None
) -> list[CandidateRow]:
    """Candidate providers for `spec` (see the module docstring for the two forms)."""
    classes = classes_for(spec)
    params: dict[str, Any] = {"classes": classes}
    where = _host_restrictions(spec, params)
    if prefilter:
        where += _restrictions(spec, params)
    sample_sql = "SELECT p.id FROM scheduler_resourceprovider p"
    if where:
        sample_sql += " WHERE " + " AND ".join(where)
    if prefilter and limit:
        # A random sample spreads concurrent requests over the fleet and bounds the cost.
        sample_sql += " ORDER BY random() LIMIT %(limit)s"
        params["limit"] = limit

    # Usage is summed per inventory row by an index-only scan of allocation_usage; only
    # the sampled providers' rows are summed, never the whole allocation table.
    inv_sql = """
        SELECT i.provider_id, i.resource_class, i.total, i.reserved, i.allocation_ratio,
               i.min_unit, i.max_unit, i.step_size,
               COALESCE((SELECT sum(a.used) FROM scheduler_allocation a
                         WHERE a.provider_id = i.provider_id
                           AND a.resource_class = i.resource_class), 0)::bigint AS used
        FROM scheduler_inventory i JOIN sample s ON s.id = i.provider_id
        WHERE i.resource_class = ANY(%(classes)s)
    """
    if prefilter and spec.resources:
        params["req_classes"] = list(spec.resources)
        params["req_amounts"] = [spec.resources[rc] for rc in spec.resources]
        params["n_req"] = len(spec.resources)
        ok_sql = """
            SELECT inv.provider_id FROM inv
            JOIN unnest(%(req_classes)s::text[], %(req_amounts)s::bigint[]) AS req(rc, amount)
              ON req.rc = inv.resource_class
            WHERE floor((inv.total - inv.reserved) * inv.allocation_ratio) - inv.used >= req.amount
              AND req.amount >= inv.min_unit
              AND req.amount <= inv.max_unit
              AND req.amount %% inv.step_size = 0
            GROUP BY inv.provider_id
            HAVING count(*) = %(n_req)s
        """
    else:
        ok_sql = "SELECT s.id AS provider_id FROM sample s"
    sql = f"""
        WITH sample AS MATERIALIZED ({sample_sql}),
             inv AS MATERIALIZED ({inv_sql}),
             ok AS ({ok_sql})
        SELECT p.id, p.uuid, p.name, p.node, p.failed_builds,
               inv.resource_class, inv.total, inv.reserved, inv.allocation_ratio,
               inv.min_unit, inv.max_unit, inv.step_size, inv.used
        FROM ok JOIN scheduler_resourceprovider p ON p.id = ok.provider_id
        LEFT JOIN inv ON inv.provider_id = p.id
        ORDER BY p.id
    """  # noqa: S608 (constant fragments only; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _rows_to_candidates(rows)


def _rows_to_candidates(rows: Sequence[tuple[Any, ...]]) -> list[CandidateRow]:
    candidates: list[CandidateRow] = []
    current: CandidateRow | None = None
    for pid, puuid, name, node, failed, rc, total, reserved, ratio, mn, mx, step, used in rows:
        if current is None or current.provider_id != pid:
            current = CandidateRow(
                provider_id=pid,
                provider_uuid=str(puuid),
                host=name,
                node=node or name,
                failed_builds=failed,
                resources={},
            )
            candidates.append(current)
        if rc is not None:
            current.resources[rc] = ResourceView(
                total=total,
                reserved=reserved,
                allocation_ratio=ratio,
                min_unit=mn,
                max_unit=mx,
                step_size=step,
                used=used,
            )
    return candidates

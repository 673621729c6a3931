"""Every read of the scheduling pass: candidates, hinted instances and server groups.

The one module of the scheduler that reads the database for a pass (placement's claims.py
locks and writes, apps.placement keeps the books); the modules that decide (request_spec,
host_state, planner, filters, weighers) work on what it returns and never touch the ORM, a
rule import-linter keeps (pyproject.toml).

The candidate queries say which resource providers could take one instance of a request.
Two statements, whatever the number of hosts:

1. *inventories*: for a set of providers, their inventories of the requested classes (plus
   VCPU/MEMORY_MB/DISK_GB, which the weighers read) with the usage summed from allocations;
   providers that cannot give one instance of every requested class are dropped here
   (``floor((total - reserved) * allocation_ratio) - used >= amount`` and the
   min_unit/max_unit/step_size rules, the same `ResourceView.fits` the pass uses);
2. *facts* of the remaining ones: the compute service's status, the compute node's facts,
   aggregate ids, traits and instance counts.

Two forms:

- the *fast* form looks at `limit` providers from a random window of ids among those whose compute
  service is enabled and up, that have the required traits and none of the forbidden ones,
  that the request does not ignore and, if it names an availability zone or an affinity
  group with members, in that zone or on those hosts (Nova's ``max_placement_results`` with
  randomised candidates and its placement prefilters): its cost does not grow with the
  fleet, and concurrent requests spread out. These prefilters repeat checks the pass makes
  anyway, so they change the cost, never the answer;
- the *full* form (`prefilter=False`) returns every provider, so that the pass can say why
  each one was rejected (the "No valid host" explanation) and cannot miss a host the sample
  left out.

Both forms keep only the forced or requested host when the request names one.

The SQL names the tables of apps.placement (named scheduler_*, from before placement was its
own app), apps.hosts and apps.servers literally (greppable); only constant text is put into
it, every value is a parameter. When the request names instances (same_host/different_host),
two more queries find their hosts.

The group and source-host reads are the ones `RequestSpec.from_request` makes, through
`SpecReader` (installed by `SchedulerConfig.ready()`).
Must not: lock anything or write (apps/placement/claims.py does that).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

import psycopg
from django.db import connection

from apps.hosts.choices import AZ_METADATA_KEY, COMPUTE_BINARY, DEFAULT_AVAILABILITY_ZONE
from apps.placement.capacity import ResourceView
from apps.placement.models import Allocation, ResourceProvider
from apps.scheduler.choices import TRAIT_SAME_HOST_COLD_MIGRATE, WEIGHED_RESOURCE_CLASSES
from apps.scheduler.host_state import CandidateRow
from apps.scheduler.request_spec import AFFINITY, GroupSpec, RequestSpec, canonical_uuid
from apps.servers.choices import TaskState
from apps.servers.models import Server, ServerGroup
from computecloud.conf import cc_settings
from computecloud.exceptions import InvalidInput

# Instances in these task states count as I/O-heavy work on their host (Nova's num_io_ops).
IO_TASK_STATES: tuple[str, ...] = tuple(
    state.value
    for state in (
        TaskState.SPAWNING,
        TaskState.NETWORKING,
        TaskState.BLOCK_DEVICE_MAPPING,
        TaskState.RESIZE_MIGRATING,
        TaskState.RESIZE_PREP,
        TaskState.RESIZE_FINISH,
        TaskState.REBUILDING,
        TaskState.REBUILD_SPAWNING,
        TaskState.IMAGE_SNAPSHOT,
        TaskState.IMAGE_UPLOADING,
        TaskState.MIGRATING,
    )
)


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


_IN_ZONE = (
    "EXISTS (SELECT 1 FROM hosts_aggregatehost ah JOIN hosts_aggregate a"
    " ON a.id = ah.aggregate_id WHERE ah.host = p.name AND a.metadata ->> %(az_key)s = %(az)s)"
)
_IN_NO_ZONE = (
    "NOT EXISTS (SELECT 1 FROM hosts_aggregatehost ah JOIN hosts_aggregate a"
    " ON a.id = ah.aggregate_id WHERE ah.host = p.name AND a.metadata ->> %(az_key)s IS NOT NULL)"
)


def _prefilters(spec: RequestSpec, params: dict[str, Any]) -> list[str]:
    """What the fast form leaves out and the full form lets the pass explain."""
    where: list[str] = []
    if not spec.force_host:
        # ComputeFilter's rule (forced hosts skip the filters, so they skip this too).
        where.append(
            "EXISTS (SELECT 1 FROM hosts_service sv WHERE sv.host = p.name"
            " AND sv.binary = %(binary)s AND NOT sv.disabled AND NOT sv.forced_down"
            " AND sv.last_seen_up >= now() - make_interval(secs => %(down_time)s))"
        )
        params["binary"] = COMPUTE_BINARY
        params["down_time"] = float(cc_settings.SERVICE_DOWN_TIME)
    if spec.availability_zone and not spec.force_host:
        # AvailabilityZoneFilter's rule: an AZ aggregate names it, or it is the default zone
        # and no AZ aggregate holds the host.
        in_zone = _IN_ZONE
        if spec.availability_zone == DEFAULT_AVAILABILITY_ZONE:
            in_zone = f"({_IN_ZONE} OR {_IN_NO_ZONE})"
        where.append(in_zone)
        params["az_key"] = AZ_METADATA_KEY
        params["az"] = spec.availability_zone
    if spec.ignore_hosts:
        where.append("NOT (p.name = ANY(%(ignore)s::text[]))")
        params["ignore"] = sorted(spec.ignore_hosts)
    if spec.required_traits:
        where.append(
            "(SELECT count(*) FROM scheduler_resourceprovider_traits pt"
            " JOIN scheduler_trait t ON t.id = pt.trait_id"
            " WHERE pt.resourceprovider_id = p.id AND t.name = ANY(%(required)s::text[]))"
            " = %(n_required)s"
        )
        params["required"] = sorted(spec.required_traits)
        params["n_required"] = len(spec.required_traits)
    if spec.forbidden_traits:
        where.append(
            "NOT EXISTS (SELECT 1 FROM scheduler_resourceprovider_traits pt"
            " JOIN scheduler_trait t ON t.id = pt.trait_id"
            " WHERE pt.resourceprovider_id = p.id AND t.name = ANY(%(forbidden)s::text[]))"
        )
        params["forbidden"] = sorted(spec.forbidden_traits)
    if spec.group is not None and spec.group.policy == AFFINITY and spec.group.member_hosts:
        # ServerGroupAffinityFilter's rule: later members go where the first ones are.
        where.append("p.name = ANY(%(group_hosts)s::text[])")
        params["group_hosts"] = sorted(spec.group.member_hosts)
    if spec.same_host:
        # SameHostFilter's rule: the hosts of the named instances (by host column or claim).
        where.append(
            "(p.name IN (SELECT s.host FROM servers_server s WHERE s.uuid = ANY(%(same)s::uuid[]))"
            " OR p.id IN (SELECT a.provider_id FROM scheduler_allocation a"
            " WHERE a.consumer_uuid = ANY(%(same)s::uuid[])))"
        )
        params["same"] = list(spec.same_host)
    return where


_PROVIDER_COLUMNS = "p.id, p.uuid, p.name, p.node, p.failed_builds"
_ALL_PROVIDERS_SQL = (
    "SELECT p.id, p.uuid, p.name, p.node, p.failed_builds FROM scheduler_resourceprovider p"
)

# A random window of the provider-id space, wrapping around: `limit` providers that pass
# the prefilters, starting at a random id. Read through the primary key, so its cost is the
# window's, not the fleet's; every provider is equally likely to be in a window.
_WINDOW_SQL = """
    SELECT * FROM (
        (SELECT {columns} FROM scheduler_resourceprovider p
         WHERE p.id >= (SELECT start FROM window_start){and_where}
         ORDER BY p.id LIMIT %(limit)s)
        UNION ALL
        (SELECT {columns} FROM scheduler_resourceprovider p
         WHERE p.id < (SELECT start FROM window_start){and_where}
         ORDER BY p.id LIMIT %(limit)s)
    ) w LIMIT %(limit)s
"""
_WINDOW_START_SQL = """
    window_start AS MATERIALIZED (
        SELECT min(id) + floor(random() * (max(id) - min(id) + 1))::bigint AS start
        FROM scheduler_resourceprovider
    ),
"""

# One row per chosen provider, every part an index lookup from it:
# - its inventories of the classes, with usage summed from the allocation_usage index
#   (provider, class, INCLUDE used), as one text "class total reserved ratio min max step
#   used" per class, ";"-separated (cheaper to return and parse than JSON or arrays);
# - the service (is it up: the rule of Service.is_up, on the database clock), the node's
#   facts, its aggregates with their metadata (JSON), traits and instance counts.
_CANDIDATES_SQL = """
    WITH {start} chosen AS MATERIALIZED ({chosen})
    SELECT p.id, p.uuid, p.name, p.node, p.failed_builds,
           (SELECT string_agg(concat_ws(' ', i.resource_class, i.total, i.reserved,
                                        i.allocation_ratio, i.min_unit, i.max_unit,
                                        i.step_size,
                                        COALESCE((SELECT sum(a.used) FROM scheduler_allocation a
                                                  WHERE a.provider_id = i.provider_id
                                                    AND a.resource_class = i.resource_class),
                                                 0)), ';')
              FROM scheduler_inventory i
             WHERE i.provider_id = p.id AND i.resource_class = ANY(%(classes)s::text[])),
           sv.id IS NOT NULL,
           COALESCE(NOT sv.forced_down AND sv.last_seen_up IS NOT NULL
                    AND now() - sv.last_seen_up <= make_interval(secs => %(down_time)s), false),
           COALESCE(sv.disabled, false), COALESCE(sv.disabled_reason, ''),
           n.hypervisor_type, n.hypervisor_version, n.cpu_info::text, n.capabilities::text,
           (SELECT json_agg(json_build_array(a.uuid, a.name, a.metadata) ORDER BY a.id)::text
              FROM hosts_aggregatehost ah JOIN hosts_aggregate a ON a.id = ah.aggregate_id
             WHERE ah.host = p.name),
           ARRAY(SELECT t.name FROM scheduler_resourceprovider_traits pt
                 JOIN scheduler_trait t ON t.id = pt.trait_id
                 WHERE pt.resourceprovider_id = p.id),
           (SELECT count(*) FROM servers_server s WHERE s.host = p.name AND NOT s.deleted),
           (SELECT count(*) FROM servers_server s WHERE s.host = p.name AND NOT s.deleted
              AND s.task_state = ANY(%(io_states)s::text[]))
    FROM chosen p
    LEFT JOIN hosts_service sv ON sv.host = p.name AND sv.binary = %(binary)s
    LEFT JOIN hosts_computenode n ON n.host = p.name
    ORDER BY p.id
"""


def find_candidates(
    spec: RequestSpec, *, prefilter: bool = True, limit: int | None = None
) -> list[CandidateRow]:
    """Candidate providers for `spec`, in provider id order (see the module docstring)."""
    params: dict[str, Any] = {
        "classes": classes_for(spec),
        "binary": COMPUTE_BINARY,
        "down_time": float(cc_settings.SERVICE_DOWN_TIME),
        "io_states": list(IO_TASK_STATES),
    }
    where = _host_restrictions(spec, params)
    if prefilter:
        where += _prefilters(spec, params)
    if prefilter and limit:
        params["limit"] = limit
        and_where = "".join(f" AND {clause}" for clause in where)
        chosen = _WINDOW_SQL.format(and_where=and_where, columns=_PROVIDER_COLUMNS)
        start = _WINDOW_START_SQL
    else:
        chosen = _ALL_PROVIDERS_SQL + _where(where)
        start = ""
    rows = _fetchall(_CANDIDATES_SQL.format(start=start, chosen=chosen), params)

    parsed: dict[str, Any] = {}
    candidates = []
    for row in rows:
        (pid, puuid, name, node, failed, inventories, has_service, up, disabled, reason,
         hv_type, hv_version, cpu_info, capabilities, aggregates, traits, n_inst,
         n_io) = row  # fmt: skip
        resources = _resources(inventories)
        if prefilter and not all(
            rc in resources and resources[rc].fits(n) for rc, n in spec.resources.items()
        ):
            continue
        candidates.append(
            CandidateRow(
                provider_id=pid,
                resources=resources,
                provider_uuid=str(puuid),
                host=name,
                node=node or name,
                failed_builds=failed,
                has_service=has_service,
                service_up=up,
                disabled=disabled,
                disabled_reason=reason,
                hypervisor_type=hv_type,
                hypervisor_version=hv_version,
                cpu_info=_json(cpu_info, parsed),
                capabilities=_json(capabilities, parsed),
                aggregates=aggregates,
                traits=traits,
                num_instances=n_inst,
                num_io_ops=n_io,
            )
        )
    if candidates:
        hinted = _hinted_instances(spec)
        for candidate in candidates:
            candidate.hinted_instances = set(hinted.get(candidate.host, ()))
    return candidates


def _hinted_instances(spec: RequestSpec) -> dict[str, set[str]]:
    """Host → the hinted instances (same_host/different_host) on it: two queries, if any."""
    wanted = set(spec.same_host) | set(spec.different_host)
    if not wanted:
        return {}
    by_host: dict[str, set[str]] = {}
    for uuid, host in Server.objects.filter(uuid__in=wanted, host__isnull=False).values_list(
        "uuid", "host"
    ):
        by_host.setdefault(host, set()).add(str(uuid))
    # An instance placed by a committed pass whose host column is not written yet.
    for uuid, host in (
        Allocation.objects.filter(consumer_uuid__in=wanted)
        .values_list("consumer_uuid", "provider__name")
        .distinct()
    ):
        by_host.setdefault(host, set()).add(str(uuid))
    return by_host


# --- what building a RequestSpec reads (request_spec.SpecReader) ---------------------------
def load_group(group_ref: Any, *, exclude: Iterable[str] = ()) -> GroupSpec:
    """The group (a `ServerGroup` or its uuid) with the hosts its members are on now.

    A member's hosts are its ``Server.host`` and the providers holding its allocations (which
    is where a member scheduled by a concurrent, now committed, pass landed even before its
    host column is written). Members in `exclude` (the instances being scheduled) are left
    out. Two queries.
    """
    group: ServerGroup | None = (
        group_ref
        if isinstance(group_ref, ServerGroup)
        else ServerGroup.objects.filter(uuid=canonical_uuid(group_ref)).first()
    )
    if group is None:
        raise InvalidInput(reason=f"server group {group_ref} not found")
    excluded = {str(u) for u in exclude}
    members = Server.objects.filter(group_membership__group=group).values_list("uuid", "host")
    hosts_by_member: dict[str, set[str]] = {}
    for member_uuid, host in members:
        key = str(member_uuid)
        if key in excluded:
            continue
        hosts_by_member.setdefault(key, set())
        if host:
            hosts_by_member[key].add(host)
    if hosts_by_member:
        allocated = (
            Allocation.objects.filter(consumer_uuid__in=list(hosts_by_member))
            .values_list("consumer_uuid", "provider__name")
            .distinct()
        )
        for consumer, host in allocated:
            hosts_by_member[str(consumer)].add(host)
    counts: dict[str, int] = {}
    for hosts in hosts_by_member.values():
        for host in hosts:
            counts[host] = counts.get(host, 0) + 1
    return GroupSpec(
        uuid=str(group.uuid),
        policy=group.policy,
        rules=MappingProxyType(dict(group.rules or {})),
        member_hosts=MappingProxyType(counts),
    )


def provider_id(provider_uuid: str) -> int | None:
    """The id of the provider with this uuid (an alternate names its host's), if it exists."""
    found: int | None = (
        ResourceProvider.objects.filter(uuid=provider_uuid).values_list("id", flat=True).first()
    )
    return found


def may_cold_migrate_in_place(host: str) -> bool:
    """Whether `host` has the COMPUTE_SAME_HOST_COLD_MIGRATE trait (a cold migration may stay)."""
    return ResourceProvider.objects.filter(
        name=host, traits__name=TRAIT_SAME_HOST_COLD_MIGRATE
    ).exists()


def _fetchall(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run the candidate statement with PostgreSQL's JIT off for the transaction.

    Its cost estimate (a subquery per provider) passes jit_above_cost on large fleets, and
    compiling it takes longer than running it (half a second of 1.1 s at 10,000 hosts).
    JIT never pays for short OLTP statements, so turning it off for the rest of the caller's
    transaction costs nothing. With the default client-binding cursor the SET rides in the
    same round trip (several statements in one message run in one implicit transaction).
    Not prepared: measured, a prepared (generic) plan ran no cheaper than planning it anew.
    """
    with connection.cursor() as cursor:
        if isinstance(cursor.cursor, psycopg.ClientCursor):
            cursor.execute("SET LOCAL jit = off; " + sql, params)
            cursor.nextset()
        else:
            if connection.in_atomic_block:
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, params)
        return list(cursor.fetchall())


def _where(where: list[str]) -> str:
    return (" WHERE " + " AND ".join(where)) if where else ""


def _resources(text: str | None) -> dict[str, ResourceView]:
    resources = {}
    for item in (text or "").split(";"):
        if item:
            rc, total, reserved, ratio, mn, mx, step, used = item.split(" ")
            resources[rc] = ResourceView(
                total=int(total),
                reserved=int(reserved),
                allocation_ratio=float(ratio),
                min_unit=int(mn),
                max_unit=int(mx),
                step_size=int(step),
                used=int(used),
            )
    return resources


def _json(text: str | None, parsed: dict[str, Any]) -> Any:
    """Decode a JSON column once per distinct text (hosts of a fleet share their facts)."""
    if not text:
        return {}
    value = parsed.get(text)
    if value is None:
        value = parsed[text] = json.loads(text)
    return value

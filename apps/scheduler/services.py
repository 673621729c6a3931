"""The scheduler's public API: scheduling passes (which claim) and the dry run.

The conductor calls these in-process, inside its own transaction
(docs/decisions/0001-scheduler-in-process.md). A pass reads through candidates.py, decides in
memory (planner, filters, weighers) and claims through placement (apps/placement/claims.py);
placement's other books (releases, moves, inventories) are apps/placement/services.py's.
Signatures (stable; see docs/scheduler.md for the whole story):

- ``select_destinations(spec, *, min_count=None) -> list[Selection]``: one pass for all the
  spec's instances; claims every placed instance, or raises `NoValidHost`.
- ``claim_on_alternate(spec, *, instance_uuid, alternate) -> bool``: reschedule onto an
  alternate (replaces the instance's allocations), False if it no longer fits.
- ``dry_run(...) -> DryRunResult`` (the admin endpoint; claims nothing)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import uuid as uuid_lib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from apps.placement import claims
from apps.placement.services import move_allocations
from apps.scheduler import candidates
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.filters import load_filters
from apps.scheduler.host_state import HostState, build_host_states
from apps.scheduler.planner import Placement, Plan, plan_instances
from apps.scheduler.request_spec import (
    AFFINITY,
    ANTI_AFFINITY,
    HARD_POLICIES,
    RequestSpec,
)
from apps.scheduler.selection import Alternate, Selection
from apps.scheduler.weighers import load_weighers
from computecloud import metrics
from computecloud.conf import cc_settings
from computecloud.exceptions import InvalidInput

logger = logging.getLogger(__name__)

# Claim conflicts tolerated in one pass before giving up (each one means another request
# took capacity we planned on; every third one re-reads all candidates).
MAX_CLAIM_CONFLICTS = 30
REFRESH_EVERY = 3

# First key of the two-integer advisory lock of a server group: the scheduler's namespace
# ("sc" in ASCII).
GROUP_LOCK_NAMESPACE = 0x7363


# --- the scheduling pass --------------------------------------------------------------------
def _host_states(spec: RequestSpec, *, full: bool) -> list[HostState]:
    limit: int | None = cc_settings.SCHEDULER.get("MAX_CANDIDATES") or None
    if full:
        limit = None
    elif limit is not None:
        # A batch needs room to spread (anti-affinity needs one host per instance).
        limit = max(limit, 2 * spec.num_instances)
    rows = candidates.find_candidates(spec, prefilter=not full, limit=limit)
    return build_host_states(rows, spec)


def _plan(spec: RequestSpec, states: list[HostState]) -> Plan:
    conf = cc_settings.SCHEDULER
    return plan_instances(
        spec,
        states,
        filters=load_filters(list(conf["ENABLED_FILTERS"])),
        weighers=load_weighers(list(conf["WEIGHERS"])),
        host_subset_size=int(conf.get("HOST_SUBSET_SIZE", 1)),
        max_alternates=max(0, int(conf.get("MAX_ATTEMPTS", 3)) - 1),
    )


def _refresh(
    states: list[HostState], conflict: claims.ClaimConflict, spec: RequestSpec
) -> list[HostState]:
    """Replace what the pass believed about the claimed providers by what it read locked."""
    kept = []
    for state in states:
        fresh = conflict.fresh.get(state.provider_id)
        if fresh is None:
            if state.provider_id in conflict.provider_ids:
                continue  # the provider is gone
        else:
            for resource_class in spec.resources:
                if resource_class in fresh:
                    state.resources[resource_class] = fresh[resource_class]
                else:
                    state.resources.pop(resource_class, None)  # its inventory is gone
        kept.append(state)
    return kept


def _place(spec: RequestSpec, *, need: int, claim: bool) -> Plan:
    """Plan (and if `claim`, claim) at least `need` of the spec's instances, as many as fit.

    Fast pass on the prefiltered window of candidates first; if it places fewer than all
    the instances, one full pass over every provider (which finds hosts the window missed and
    explains the rejections). A claim conflict refreshes the providers it locked and
    re-plans; every third one re-reads the candidates.
    Returns the plan; the caller decides whether `placed < need` is an error.
    """
    full = False
    states = _host_states(spec, full=False)
    conflicts = 0
    while True:
        plan = _plan(spec, states)
        if len(plan.placements) < spec.num_instances and not full:
            logger.debug(
                "fast pass placed %d of %d for %s; full pass",
                len(plan.placements),
                spec.num_instances,
                ",".join(spec.instance_uuids),
            )
            full = True
            states = _host_states(spec, full=True)
            continue
        if len(plan.placements) < need or not claim:
            return plan
        requests = [
            claims.ClaimRequest(
                provider_id=p.host.provider_id,
                consumer_uuid=p.instance_uuid,
                resources=spec.resources,
            )
            for p in plan.placements
        ]
        try:
            claims.claim(requests, project_id=spec.project_id, user_id=spec.user_id)
        except claims.ClaimConflict as conflict:
            conflicts += 1
            logger.info(
                "claim for %s conflicted (%d): %s",
                ",".join(spec.instance_uuids),
                conflicts,
                conflict,
            )
            if conflicts >= MAX_CLAIM_CONFLICTS:
                explanation = plan.explanation.copy()
                explanation.placed = 0
                explanation.note = (
                    f"Capacity kept changing under concurrent requests ({conflicts} claim "
                    "conflicts)."
                )
                raise NoValidHost(explanation) from conflict
            if conflicts % REFRESH_EVERY == 0:
                states = _host_states(spec, full=full)
            else:
                states = _refresh(states, conflict, spec)
            continue
        return plan


def _alternate(host: HostState, spec: RequestSpec) -> Alternate:
    return Alternate(
        host=host.host,
        node=host.node,
        provider_uuid=host.provider_uuid,
        allocation=dict(spec.resources),
        availability_zone=host.availability_zone,
    )


def _selection(placement: Placement, spec: RequestSpec) -> Selection:
    host = placement.host
    return Selection(
        instance_uuid=placement.instance_uuid,
        host=host.host,
        node=host.node,
        provider_uuid=host.provider_uuid,
        allocation=dict(spec.resources),
        alternates=[_alternate(alt, spec) for alt in placement.alternates],
        availability_zone=host.availability_zone,
    )


def _lock_group(group_uuid: str) -> None:
    """Serialise scheduling passes of one server group until the transaction ends.

    Taken before any provider row lock (the locking order, apps/placement/claims.py), and
    before the members' hosts are read, so the read and the claim are atomic together.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [GROUP_LOCK_NAMESPACE, group_uuid]
        )


def _with_fresh_group(spec: RequestSpec) -> RequestSpec:
    """Take the group lock (hard policies) and re-read where the members are, under it."""
    if spec.group is None or spec.group.policy not in HARD_POLICIES:
        return spec
    _lock_group(spec.group.uuid)
    return spec.with_group(candidates.load_group(spec.group.uuid, exclude=spec.instance_uuids))


def _timed(decide: Callable[..., list[Selection]]) -> Callable[..., list[Selection]]:
    """Observe each decision's duration (computecloud_scheduler_decision_seconds), by outcome:
    "selected", "no_valid_host" or "error"."""

    @functools.wraps(decide)
    def timed(*args: Any, **kwargs: Any) -> list[Selection]:
        started = time.monotonic()
        outcome = "error"
        try:
            selections = decide(*args, **kwargs)
            outcome = "selected"
            return selections
        except NoValidHost:
            outcome = "no_valid_host"
            raise
        finally:
            metrics.SCHEDULER_DECISION_SECONDS.labels(outcome=outcome).observe(
                time.monotonic() - started
            )

    return timed


@_timed
def select_destinations(spec: RequestSpec, *, min_count: int | None = None) -> list[Selection]:
    """Choose and claim a host for each of `spec`'s instances, in one pass.

    All instances or none, unless `min_count` accepts fewer: then at least `min_count` are
    placed and claimed (as many as fit), and only those are returned, in the spec's order.
    Raises `NoValidHost` (with the explanation) when fewer fit.

    For a move (``spec.is_move``), the instance's current allocation is first handed to
    ``spec.migration_uuid`` (it keeps the source host's resources while the move lasts), then
    the instance's new allocation is claimed on the destination.

    Precondition: called inside the caller's transaction (the claims commit with it; a pass
    run outside one commits on return), once per transaction (see apps/placement/claims.py).
    """
    count = spec.num_instances
    need = count if min_count is None else min_count
    if not 1 <= need <= count:
        raise InvalidInput(reason=f"min_count must be between 1 and {count}")
    if spec.is_move and (count != 1 or not spec.migration_uuid):
        raise InvalidInput(reason="a move schedules one instance and needs its migration uuid")
    # A savepoint only when something must be undone on NoValidHost (the moved source
    # allocation) or held to the end of the caller's transaction (the group lock): it costs
    # two round trips.
    needs_block = spec.is_move or (spec.group is not None and spec.group.policy in HARD_POLICIES)
    with transaction.atomic() if needs_block else contextlib.nullcontext():
        spec = _with_fresh_group(spec)
        if spec.migration_uuid is not None:  # a move (checked above)
            move_allocations(from_consumer=spec.instance_uuids[0], to_consumer=spec.migration_uuid)
        plan = _place(spec, need=need, claim=True)
        if len(plan.placements) < need:
            logger.info(
                "no valid host for %s (%d of %d fit): %s",
                ",".join(spec.instance_uuids),
                len(plan.placements),
                count,
                plan.explanation.summary(),
            )
            # Raising inside the atomic block undoes the move of the source allocation.
            raise NoValidHost(plan.explanation)
    selections = [_selection(p, spec) for p in plan.placements]
    for selection in selections:
        logger.info(
            "instance %s scheduled on %s (%d alternates)",
            selection.instance_uuid,
            selection.host,
            len(selection.alternates),
        )
    return selections


def claim_on_alternate(spec: RequestSpec, *, instance_uuid: str, alternate: Alternate) -> bool:
    """Move the instance's claim onto `alternate` (a reschedule); False if it no longer fits.

    Replaces the instance's allocations (on the host that failed) by the spec's resources on
    the alternate's provider, under the provider lock; for an affinity or anti-affinity group
    the policy is checked again under the group lock. On False nothing changed.
    Precondition: inside the caller's transaction, as for `select_destinations`.
    """
    instance_uuid = str(uuid_lib.UUID(str(instance_uuid)))
    with transaction.atomic():
        if spec.group is not None and spec.group.policy in HARD_POLICIES:
            _lock_group(spec.group.uuid)
            group = candidates.load_group(spec.group.uuid, exclude=[instance_uuid])
            members = group.member_hosts
            if spec.group.policy == AFFINITY and members and alternate.host not in members:
                return False
            if (
                spec.group.policy == ANTI_AFFINITY
                and members.get(alternate.host, 0) >= group.max_server_per_host
            ):
                return False
        provider_id = candidates.provider_id(alternate.provider_uuid)
        if provider_id is None:
            return False
        request = claims.ClaimRequest(
            provider_id=provider_id, consumer_uuid=instance_uuid, resources=spec.resources
        )
        try:
            claims.claim([request], project_id=spec.project_id, user_id=spec.user_id)
        except claims.ClaimConflict:
            logger.info("alternate %s no longer fits instance %s", alternate.host, instance_uuid)
            return False
    logger.info("instance %s claimed on alternate %s", instance_uuid, alternate.host)
    return True


# --- dry run ------------------------------------------------------------------------------
@dataclass
class DryRunResult:
    fits: int
    hosts: list[dict[str, Any]] = field(default_factory=list)
    shortfall: str | None = None
    explanation: dict[str, Any] | None = None


def dry_run(spec: RequestSpec) -> DryRunResult:
    """How many of `spec`'s instances would fit now, and where; claims and locks nothing."""
    plan = _place(spec, need=spec.num_instances, claim=False)
    per_host = Counter(p.host.host for p in plan.placements)
    placed = len(plan.placements)
    short = placed < spec.num_instances
    return DryRunResult(
        fits=placed,
        hosts=[{"host": host, "count": n} for host, n in per_host.most_common()],
        shortfall=plan.explanation.summary() if short else None,
        explanation=plan.explanation.as_dict() if short else None,
    )

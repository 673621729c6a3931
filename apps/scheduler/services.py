"""The scheduler's public API: scheduling passes, claims, moves and inventory bookkeeping.

The conductor calls these in-process, inside its own transaction
(docs/decisions/0001-scheduler-in-process.md); every write of placement data goes through
here. Signatures (stable; see docs/scheduler.md for the whole story):

- ``select_destinations(spec, *, min_count=None) -> list[Selection]``: one pass for all the
  spec's instances; claims every placed instance, or raises `NoValidHost`.
- ``claim_on_alternate(spec, *, instance_uuid, alternate) -> bool``: reschedule onto an
  alternate (replaces the instance's allocations), False if it no longer fits.
- ``release_allocations(*, consumer_uuid) -> int``
- ``move_allocations(*, from_consumer, to_consumer) -> int``
- ``confirm_move(*, migration_uuid) -> int`` / ``revert_move(*, instance_uuid, migration_uuid)``
- ``get_allocations(consumer_uuid) -> dict``, ``provider_usages(provider) -> dict``
- ``sync_compute_node_inventory(*, compute_node_uuid, host, inventories, traits) -> None``
- ``set_inventory_overrides(...)``, ``record_build_result(...)``, ``sync_provider_aggregates``
- ``dry_run(...) -> DryRunResult`` (the admin endpoint; claims nothing)
"""

from __future__ import annotations

import contextlib
import logging
import uuid as uuid_lib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from apps.hosts.models import AggregateHost, ComputeNode
from apps.scheduler import candidates, claims
from apps.scheduler.choices import is_valid_resource_class, is_valid_trait
from apps.scheduler.exceptions import NoValidHost
from apps.scheduler.filters import load_filters
from apps.scheduler.host_state import HostState, build_host_states
from apps.scheduler.models import (
    Allocation,
    Inventory,
    ProviderAggregate,
    ResourceProvider,
    Trait,
)
from apps.scheduler.planner import Placement, Plan, plan_instances
from apps.scheduler.request_spec import (
    AFFINITY,
    ANTI_AFFINITY,
    HARD_POLICIES,
    RequestSpec,
)
from apps.scheduler.selection import Alternate, Selection
from apps.scheduler.weighers import load_weighers
from computecloud.conf import cc_settings
from computecloud.exceptions import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

# Claim conflicts tolerated in one pass before giving up (each one means another request
# took capacity we planned on; every third one re-reads all candidates).
MAX_CLAIM_CONFLICTS = 30
REFRESH_EVERY = 3


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


def _with_fresh_group(spec: RequestSpec) -> RequestSpec:
    """Take the group lock (hard policies) and re-read where the members are, under it."""
    if spec.group is None or spec.group.policy not in HARD_POLICIES:
        return spec
    claims.lock_group(spec.group.uuid)
    return spec.with_group(candidates.load_group(spec.group.uuid, exclude=spec.instance_uuids))


def select_destinations(spec: RequestSpec, *, min_count: int | None = None) -> list[Selection]:
    """Choose and claim a host for each of `spec`'s instances, in one pass.

    All instances or none, unless `min_count` accepts fewer: then at least `min_count` are
    placed and claimed (as many as fit), and only those are returned, in the spec's order.
    Raises `NoValidHost` (with the explanation) when fewer fit.

    For a move (``spec.is_move``), the instance's current allocation is first handed to
    ``spec.migration_uuid`` (it keeps the source host's resources while the move lasts), then
    the instance's new allocation is claimed on the destination.

    Precondition: called inside the caller's transaction (the claims commit with it; a pass
    run outside one commits on return), once per transaction (see claims.py, "Locking").
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
            claims.lock_group(spec.group.uuid)
            group = candidates.load_group(spec.group.uuid, exclude=[instance_uuid])
            members = group.member_hosts
            if spec.group.policy == AFFINITY and members and alternate.host not in members:
                return False
            if (
                spec.group.policy == ANTI_AFFINITY
                and members.get(alternate.host, 0) >= group.max_server_per_host
            ):
                return False
        provider_id = (
            ResourceProvider.objects.filter(uuid=alternate.provider_uuid)
            .values_list("id", flat=True)
            .first()
        )
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


# --- allocations ------------------------------------------------------------------------------
def release_allocations(*, consumer_uuid: str | uuid_lib.UUID) -> int:
    """Drop every allocation of the consumer (an instance deleted, a migration confirmed).

    Returns the number of allocation rows removed (one per provider and class). No lock
    needed: removing usage cannot over-commit.
    """
    deleted, _ = Allocation.objects.filter(consumer_uuid=consumer_uuid).delete()
    if deleted:
        logger.info("allocations of %s released (%d)", consumer_uuid, deleted)
    return deleted


def move_allocations(
    *, from_consumer: str | uuid_lib.UUID, to_consumer: str | uuid_lib.UUID
) -> int:
    """Give `from_consumer`'s allocations to `to_consumer` (which loses any it had).

    Provider usage does not change, so no provider lock is taken. Returns rows moved.
    """
    with transaction.atomic():
        source = Allocation.objects.filter(consumer_uuid=from_consumer)
        if not source.exists():
            return 0
        Allocation.objects.filter(consumer_uuid=to_consumer).delete()
        moved = source.update(consumer_uuid=to_consumer)
    if moved:
        logger.info("allocations of %s moved to %s (%d)", from_consumer, to_consumer, moved)
    return moved


def confirm_move(*, migration_uuid: str | uuid_lib.UUID) -> int:
    """A resize/migration is confirmed: the source allocation (the migration's) goes."""
    return release_allocations(consumer_uuid=migration_uuid)


def revert_move(*, instance_uuid: str | uuid_lib.UUID, migration_uuid: str | uuid_lib.UUID) -> int:
    """A resize/migration is reverted: the destination allocation (the instance's) goes and
    the source allocation returns from the migration to the instance. Returns rows moved.

    If the migration holds nothing (already confirmed or reverted), nothing changes.
    """
    return move_allocations(from_consumer=migration_uuid, to_consumer=instance_uuid)


def usage_by_host() -> dict[str, dict[str, int]]:
    """Used resources per provider (host), summed from the allocations: what the admin host
    views show as used."""
    usage: dict[str, dict[str, int]] = {}
    rows = Allocation.objects.values("provider__name", "resource_class").annotate(used=Sum("used"))
    for row in rows:
        usage.setdefault(row["provider__name"], {})[row["resource_class"]] = int(row["used"])
    return usage


def get_allocations(consumer_uuid: str | uuid_lib.UUID) -> dict[str, dict[str, Any]]:
    """``{provider_uuid: {"host": name, "resources": {class: used}}}`` for the consumer."""
    result: dict[str, dict[str, Any]] = {}
    rows = Allocation.objects.filter(consumer_uuid=consumer_uuid).values_list(
        "provider__uuid", "provider__name", "resource_class", "used"
    )
    for provider_uuid, name, rc, used in rows:
        entry = result.setdefault(str(provider_uuid), {"host": name, "resources": {}})
        entry["resources"][rc] = used
    return result


def provider_usages(provider: ResourceProvider | str | uuid_lib.UUID) -> dict[str, int]:
    """Usage per resource class of a provider (model, uuid or host name), summed from its
    allocations; classes with inventory but no allocation are 0."""
    if isinstance(provider, ResourceProvider):
        provider_id = provider.pk
    else:
        query = ResourceProvider.objects.all()
        try:
            query = query.filter(uuid=uuid_lib.UUID(str(provider)))
        except ValueError:
            query = query.filter(name=str(provider))
        found = query.values_list("id", flat=True).first()
        if found is None:
            raise NotFound(f"Resource provider {provider} could not be found.")
        provider_id = found
    usages = dict.fromkeys(
        Inventory.objects.filter(provider_id=provider_id).values_list("resource_class", flat=True),
        0,
    )
    for rc, used in (
        Allocation.objects.filter(provider_id=provider_id)
        .values("resource_class")
        .annotate(used=Sum("used"))
        .values_list("resource_class", "used")
        .order_by()
    ):
        usages[rc] = used
    return usages


# --- inventory bookkeeping ---------------------------------------------------------------------
def _default_ratio(resource_class: str) -> float:
    ratios: dict[str, float] = cc_settings.ALLOCATION_RATIOS
    return float(ratios.get(resource_class, 1.0))


def _default_reserved(resource_class: str) -> int:
    reserved: dict[str, int] = cc_settings.RESERVED
    return int(reserved.get(resource_class, 0))


def _clean_inventory(resource_class: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if not is_valid_resource_class(resource_class):
        raise InvalidInput(reason=f"invalid resource class {resource_class!r}")
    try:
        total = int(data["total"])
        cleaned: dict[str, Any] = {
            "total": total,
            "min_unit": int(data.get("min_unit", 1)),
            "max_unit": int(data.get("max_unit", total)),
            "step_size": int(data.get("step_size", 1)),
        }
        reserved = data.get("reserved")
        ratio = data.get("allocation_ratio")
        cleaned["reserved"] = (
            _default_reserved(resource_class) if reserved is None else int(reserved)
        )
        cleaned["allocation_ratio"] = (
            _default_ratio(resource_class) if ratio is None else float(ratio)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(reason=f"invalid {resource_class} inventory: {exc}") from None
    if min(cleaned["total"], cleaned["min_unit"], cleaned["max_unit"], cleaned["reserved"]) < 0:
        raise InvalidInput(reason=f"{resource_class} inventory has a negative amount")
    if cleaned["step_size"] < 1 or cleaned["allocation_ratio"] <= 0:
        raise InvalidInput(reason=f"{resource_class} inventory needs step_size >= 1, ratio > 0")
    return cleaned


def sync_compute_node_inventory(
    *,
    compute_node_uuid: str | uuid_lib.UUID,
    host: str,
    inventories: dict[str, dict[str, Any]],
    traits: list[str],
) -> None:
    """Record what a compute host reported: its provider, inventories and traits.

    `inventories` maps a resource class to ``{"total", optional "reserved", "min_unit",
    "max_unit", "step_size", "allocation_ratio"}``; missing values default to RESERVED /
    ALLOCATION_RATIOS for standard classes (0 and 1.0 for custom ones). An operator's
    override of allocation_ratio or reserved (`set_inventory_overrides`) wins over the report.
    A class no longer reported is removed unless allocations still use it (then kept, with a
    warning, as Placement refuses to delete inventory in use). Unknown trait names are
    ignored with a warning. The provider is created on first report. A report that changes
    nothing (the usual heartbeat) is recognised without locks or writes; otherwise the
    provider row is locked while the report is applied, so a concurrent claim sees the old or
    the new inventory, never half of it, and the generation is bumped.
    """
    node_uuid = uuid_lib.UUID(str(compute_node_uuid))
    cleaned = {rc: _clean_inventory(rc, data) for rc, data in inventories.items()}
    wanted_traits = set()
    for name in traits:
        if is_valid_trait(name):
            wanted_traits.add(name)
        else:
            logger.warning("host %s reported unknown trait %s; ignored", host, name)
    node_name = _node_name(node_uuid, host)
    if _report_is_known(node_uuid, host, node_name, cleaned, wanted_traits):
        # Hosts report on every heartbeat: the usual report changes nothing and must not
        # take the provider lock that claims wait on.
        return

    with transaction.atomic():
        provider = _provider_for_report(node_uuid, host, node_name)
        changed = False
        if provider.name != host or (node_name and provider.node != node_name):
            provider.name, provider.node = host, node_name or provider.node
            changed = True
        existing = {inv.resource_class: inv for inv in provider.inventories.all()}
        for rc, values in cleaned.items():
            inventory = existing.pop(rc, None)
            if inventory is None:
                Inventory.objects.create(provider=provider, resource_class=rc, **values)
                changed = True
                continue
            if inventory.allocation_ratio_overridden:
                values["allocation_ratio"] = inventory.allocation_ratio
            if inventory.reserved_overridden:
                values["reserved"] = inventory.reserved
            dirty = [k for k, v in values.items() if getattr(inventory, k) != v]
            if dirty:
                for key in dirty:
                    setattr(inventory, key, values[key])
                inventory.save(update_fields=[*dirty, "updated_at"])
                changed = True
        for rc, inventory in existing.items():
            if Allocation.objects.filter(provider=provider, resource_class=rc).exists():
                logger.warning(
                    "host %s stopped reporting %s but allocations use it; inventory kept", host, rc
                )
                continue
            inventory.delete()
            changed = True

        current_traits = set(provider.traits.values_list("name", flat=True))
        if current_traits != wanted_traits:
            Trait.objects.bulk_create(
                [Trait(name=name) for name in wanted_traits - current_traits], ignore_conflicts=True
            )
            provider.traits.set(Trait.objects.filter(name__in=wanted_traits))
            changed = True
        _sync_aggregates(provider)
        if changed:
            provider.generation = F("generation") + 1
            provider.save(update_fields=["name", "node", "generation", "updated_at"])
            logger.info("inventory of host %s updated", host)


def _report_is_known(
    node_uuid: uuid_lib.UUID,
    host: str,
    node_name: str,
    cleaned: dict[str, dict[str, Any]],
    wanted_traits: set[str],
) -> bool:
    """Whether the report matches what is recorded (read without locks, writes nothing)."""
    provider = ResourceProvider.objects.filter(uuid=node_uuid).values("id", "name", "node").first()
    if provider is None or provider["name"] != host or provider["node"] != node_name:
        return False
    recorded: dict[str, dict[str, Any]] = {
        row["resource_class"]: dict(row)
        for row in Inventory.objects.filter(provider_id=provider["id"]).values()
    }
    if set(recorded) != set(cleaned):
        return False
    for rc, values in cleaned.items():
        row = recorded[rc]
        wanted = dict(values)
        if row["allocation_ratio_overridden"]:
            wanted["allocation_ratio"] = row["allocation_ratio"]
        if row["reserved_overridden"]:
            wanted["reserved"] = row["reserved"]
        if any(row[key] != value for key, value in wanted.items()):
            return False
    traits = set(Trait.objects.filter(providers=provider["id"]).values_list("name", flat=True))
    if traits != wanted_traits:
        return False
    aggregates = set(
        AggregateHost.objects.filter(host=host).values_list("aggregate__uuid", flat=True)
    )
    mirrored = set(
        ProviderAggregate.objects.filter(provider_id=provider["id"]).values_list(
            "aggregate_uuid", flat=True
        )
    )
    return aggregates == mirrored


def _node_name(node_uuid: uuid_lib.UUID, host: str) -> str:
    name = ComputeNode.objects.filter(uuid=node_uuid).values_list("hypervisor_hostname", flat=True)
    return name.first() or host


def _provider_for_report(node_uuid: uuid_lib.UUID, host: str, node_name: str) -> ResourceProvider:
    """The locked provider of this compute node, created on its first report.

    A different provider under the same host name (the host was reinstalled and its node got
    a new uuid) is replaced if nothing is allocated on it, else the report is refused.
    """
    provider = ResourceProvider.objects.select_for_update().filter(uuid=node_uuid).first()
    if provider is not None:
        return provider
    stale = ResourceProvider.objects.select_for_update().filter(name=host).first()
    if stale is not None:
        if stale.allocations.exists():
            raise Conflict(reason=f"host {host} already has provider {stale.uuid} with allocations")
        logger.warning("host %s: provider %s replaced by %s", host, stale.uuid, node_uuid)
        stale.delete()
    try:
        with transaction.atomic():
            ResourceProvider.objects.create(uuid=node_uuid, name=host, node=node_name)
    except IntegrityError:
        pass  # a concurrent first report created it; lock that one below
    return ResourceProvider.objects.select_for_update().get(uuid=node_uuid)


def _sync_aggregates(provider: ResourceProvider) -> None:
    wanted = set(
        AggregateHost.objects.filter(host=provider.name).values_list("aggregate__uuid", flat=True)
    )
    current = set(provider.aggregates.values_list("aggregate_uuid", flat=True))
    if wanted == current:
        return
    provider.aggregates.exclude(aggregate_uuid__in=wanted).delete()
    ProviderAggregate.objects.bulk_create(
        [ProviderAggregate(provider=provider, aggregate_uuid=u) for u in wanted - current],
        ignore_conflicts=True,
    )


def sync_provider_aggregates(*, host: str) -> None:
    """Mirror the host's aggregate membership (apps.hosts) onto its provider, if it has one.

    For the hosts app to call after adding or removing a host to or from an aggregate.
    """
    provider = ResourceProvider.objects.filter(name=host).first()
    if provider is not None:
        _sync_aggregates(provider)


def set_inventory_overrides(
    *,
    host: str,
    resource_class: str,
    allocation_ratio: float | None = None,
    reserved: int | None = None,
) -> None:
    """An operator sets a host's allocation ratio and/or reserved amount for one class.

    The value is kept across the host's later reports until `clear_inventory_overrides`.
    """
    if allocation_ratio is not None and allocation_ratio <= 0:
        raise InvalidInput(reason="allocation_ratio must be positive")
    if reserved is not None and reserved < 0:
        raise InvalidInput(reason="reserved must not be negative")
    with transaction.atomic():
        provider = ResourceProvider.objects.select_for_update().filter(name=host).first()
        if provider is None:
            raise NotFound(f"Compute host {host} could not be found.")
        inventory = provider.inventories.filter(resource_class=resource_class).first()
        if inventory is None:
            raise NotFound(f"Host {host} has no {resource_class} inventory.")
        fields = ["updated_at"]
        if allocation_ratio is not None:
            inventory.allocation_ratio = allocation_ratio
            inventory.allocation_ratio_overridden = True
            fields += ["allocation_ratio", "allocation_ratio_overridden"]
        if reserved is not None:
            inventory.reserved = reserved
            inventory.reserved_overridden = True
            fields += ["reserved", "reserved_overridden"]
        inventory.save(update_fields=fields)
        ResourceProvider.objects.filter(pk=provider.pk).update(generation=F("generation") + 1)
    logger.info(
        "host %s %s overrides set: ratio=%s reserved=%s",
        host,
        resource_class,
        allocation_ratio,
        reserved,
    )


def clear_inventory_overrides(*, host: str, resource_class: str) -> None:
    """Forget the operator's overrides; the host's next report sets the values again."""
    updated = Inventory.objects.filter(provider__name=host, resource_class=resource_class).update(
        allocation_ratio_overridden=False, reserved_overridden=False
    )
    if not updated:
        raise NotFound(f"Host {host} has no {resource_class} inventory.")


def record_build_result(*, host: str, succeeded: bool) -> None:
    """Count a failed build on the host (BuildFailureWeigher), or reset the count on success."""
    providers = ResourceProvider.objects.filter(name=host)
    if succeeded:
        providers.exclude(failed_builds=0).update(failed_builds=0)
    else:
        providers.update(failed_builds=F("failed_builds") + 1)


def delete_resource_provider(*, compute_node_uuid: str | uuid_lib.UUID) -> None:
    """Forget a compute node's provider; refused while allocations remain on it."""
    with transaction.atomic():
        provider = (
            ResourceProvider.objects.select_for_update().filter(uuid=compute_node_uuid).first()
        )
        if provider is None:
            return
        if provider.allocations.exists():
            raise Conflict(reason=f"provider {provider.name} still has allocations")
        provider.delete()


def over_committed_providers() -> list[dict[str, Any]]:
    """Providers whose summed allocations exceed capacity for some class (should be none).

    An audit for tests, the benchmark and operators: one SQL statement.
    """
    from django.db import connection

    sql = """
        SELECT p.name, i.resource_class, floor((i.total - i.reserved) * i.allocation_ratio),
               COALESCE(sum(a.used), 0)
        FROM scheduler_inventory i
        JOIN scheduler_resourceprovider p ON p.id = i.provider_id
        LEFT JOIN scheduler_allocation a
          ON a.provider_id = i.provider_id AND a.resource_class = i.resource_class
        GROUP BY p.name, i.resource_class, i.total, i.reserved, i.allocation_ratio
        HAVING COALESCE(sum(a.used), 0) > floor((i.total - i.reserved) * i.allocation_ratio)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [
            {"host": host, "resource_class": rc, "capacity": int(cap), "used": int(used)}
            for host, rc, cap, used in cursor.fetchall()
        ]

"""Placement's books: inventories the compute hosts report, allocations, their audits.

Every write of placement data goes through here, but the claim itself (`claims.claim`, under
the provider row locks), which the scheduling pass (apps/scheduler/services.py) makes. The
conductor and the servers' local delete call these in their own transactions. Signatures
(stable; see docs/scheduler.md for the whole story):

- ``release_allocations(*, consumer_uuid) -> int``
- ``move_allocations(*, from_consumer, to_consumer) -> int``
- ``confirm_move(*, migration_uuid) -> int`` / ``revert_move(*, instance_uuid, migration_uuid)``
- ``get_allocations(consumer_uuid) -> dict``, ``provider_usages(provider) -> dict``,
  ``usage_by_host() -> dict``, ``inventories_by_host() -> dict``
- ``sync_compute_node_inventory(*, compute_node_uuid, host, inventories, traits) -> None``
- ``set_inventory_overrides(...)``, ``clear_inventory_overrides(...)``,
  ``record_build_result(...)``, ``sync_provider_aggregates(*, host)``,
  ``delete_resource_provider(*, compute_node_uuid)``
- ``over_committed_providers() -> list[dict]`` (an audit: should always be empty)
"""

from __future__ import annotations

import logging
import uuid as uuid_lib
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from apps.hosts.models import AggregateHost, ComputeNode
from apps.placement.capacity import ResourceView
from apps.placement.choices import is_valid_resource_class, is_valid_trait
from apps.placement.models import (
    Allocation,
    Inventory,
    ProviderAggregate,
    ResourceProvider,
    Trait,
)
from computecloud.conf import cc_settings
from computecloud.exceptions import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)


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


def inventories_by_host() -> dict[str, dict[str, ResourceView]]:
    """Host → its inventories with their usage, as the claims count them (`ResourceView`:
    ``capacity`` is ``(total - reserved) * allocation_ratio``, ``used`` the summed
    allocations of `usage_by_host`): what the operators' pages chart. Two queries."""
    usage = usage_by_host()
    result: dict[str, dict[str, ResourceView]] = {}
    rows = Inventory.objects.values_list(
        "provider__name", "resource_class", "total", "reserved", "allocation_ratio",
        "min_unit", "max_unit", "step_size",
    ).order_by()  # fmt: skip
    for host, rc, total, reserved, ratio, min_unit, max_unit, step in rows:
        result.setdefault(host, {})[rc] = ResourceView(
            total=total,
            reserved=reserved,
            allocation_ratio=ratio,
            min_unit=min_unit,
            max_unit=max_unit,
            step_size=step,
            used=usage.get(host, {}).get(rc, 0),
        )
    return result


def used_on_host(resource_class: str, host: str | OuterRef) -> Coalesce:
    """An expression for what is allocated of `resource_class` on `host` (a name, or an
    ``OuterRef`` to a host column): for annotating a list of hosts in one query."""
    used = (
        Allocation.objects.filter(provider__name=host, resource_class=resource_class)
        .order_by()
        .values("resource_class")
        .annotate(total=Sum("used"))
        .values("total")
    )
    return Coalesce(Subquery(used, output_field=IntegerField()), 0)


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

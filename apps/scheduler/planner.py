"""One scheduling pass in memory: built-in checks, filters, weighers, picks. No I/O.

For each instance of the request, in order:

1. resources: hosts that cannot give every requested class (after what this pass already
   placed on them) are rejected, per class ("RAM: ... have less than 4096 MB free");
2. the enabled filters, in the configured order (skipped for an admin-forced host, as Nova
   does); a filter with ``run_once_per_request`` is asked once per host and request;
3. the enabled weighers: each normalised to [0, 1] over the surviving hosts, times its
   multiplier, summed; ties are broken at random;
4. the pick: at random among the best ``HOST_SUBSET_SIZE``; the next best hosts (up to
   ``MAX_ATTEMPTS - 1``) become the instance's alternates; the pick's HostState consumes the
   instance, and the group (if any) counts it on that host, so the next instance of the same
   request sees both.

Before that, once per request: hosts the request excludes (ignore_hosts) and hosts lacking a
required trait or having a forbidden one are rejected (the fast candidate query has already
left them out; the full one has not, so that they are explained).

The caller's HostStates are left unchanged (a picked host is copied before it consumes), so
a re-plan after a claim conflict starts from them. See docs/scheduler.md.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from apps.placement.choices import DISK_GB, MEMORY_MB, VCPU
from apps.scheduler.explanation import Explanation
from apps.scheduler.filters import BaseHostFilter
from apps.scheduler.host_state import HostState
from apps.scheduler.request_spec import RequestSpec
from apps.scheduler.weighers import BaseHostWeigher, normalize

logger = logging.getLogger(__name__)

# Load spreading, not security: a plain PRNG is right here.
_rng = random.Random()  # noqa: S311

RESOURCE_LABELS = {MEMORY_MB: "RAM", VCPU: "VCPU", DISK_GB: "Disk"}


def resource_reason(host: HostState, resource_class: str, amount: int) -> str:
    view = host.resources.get(resource_class)
    if view is None or view.total == 0:
        return f"has no {RESOURCE_LABELS.get(resource_class, resource_class)} inventory"
    if view.used + amount > view.capacity:
        if resource_class == MEMORY_MB:
            return f"has less than {amount} MB free"
        if resource_class == VCPU:
            return f"has fewer than {amount} VCPUs free"
        if resource_class == DISK_GB:
            return f"has less than {amount} GB of disk free"
        return f"has less than {amount} {resource_class} free"
    return f"does not allow {amount} {resource_class} per instance (min/max unit, step size)"


@dataclass
class Placement:
    instance_uuid: str
    host: HostState
    alternates: list[HostState] = field(default_factory=list)


@dataclass
class Plan:
    placements: list[Placement]
    explanation: Explanation


def _static_checks(
    spec: RequestSpec, hosts: Sequence[HostState], explanation: Explanation
) -> list[HostState]:
    pool = []
    for host in hosts:
        if host.host in spec.ignore_hosts:
            explanation.add(
                "IgnoreHosts",
                "is excluded (already tried, or the instance's current host)",
                host.host,
            )
            continue
        missing = spec.required_traits - host.traits
        if missing:
            explanation.add(
                "Traits", f"lacks required traits {', '.join(sorted(missing))}", host.host
            )
            continue
        present = spec.forbidden_traits & host.traits
        if present:
            explanation.add(
                "Traits", f"has forbidden traits {', '.join(sorted(present))}", host.host
            )
            continue
        pool.append(host)
    return pool


def weigh_hosts(
    hosts: Sequence[HostState], spec: RequestSpec, weighers: Sequence[BaseHostWeigher]
) -> list[HostState]:
    """`hosts` best first (Nova's normalised, multiplied sum; random among equals)."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        multiplier = weigher.multiplier
        if not multiplier:
            continue
        raw = [weigher.weigh(host, spec) for host in hosts]
        for index, value in enumerate(normalize(raw)):
            totals[index] += multiplier * value
    ties = [_rng.random() for _ in hosts]
    order = sorted(range(len(hosts)), key=lambda i: (-totals[i], ties[i]))
    return [hosts[i] for i in order]


def plan_instances(
    spec: RequestSpec,
    hosts: Sequence[HostState],
    *,
    filters: Sequence[BaseHostFilter],
    weighers: Sequence[BaseHostWeigher],
    host_subset_size: int = 1,
    max_alternates: int = 2,
) -> Plan:
    """Place as many of `spec`'s instances as possible on `hosts`.

    The given HostStates are not changed: a host is copied the first time the pass places an
    instance on it, and the copy consumes.
    Stops at the first instance that fits nowhere; the explanation then says why, for that
    instance.
    """
    explanation = Explanation(requested=spec.num_instances, considered=len(hosts))
    pool = _static_checks(spec, hosts, explanation)
    active_filters = [] if spec.force_host else [f for f in filters if f.applies_to(spec)]
    active_weighers = [w for w in weighers if w.applies_to(spec)]
    once: dict[tuple[int, int], str | None] = {}
    position = {host.provider_id: index for index, host in enumerate(pool)}
    consumed: set[int] = set()
    placements: list[Placement] = []
    current = spec
    failed: Explanation | None = None

    for instance_uuid in spec.instance_uuids:
        record = explanation.copy()
        survivors: list[HostState] = []
        for host in pool:
            short = host.first_shortfall(spec.resources)
            if short is None:
                survivors.append(host)
            else:
                label = RESOURCE_LABELS.get(short, short)
                record.add(label, resource_reason(host, short, spec.resources[short]), host.host)
        for index, host_filter in enumerate(active_filters):
            passed: list[HostState] = []
            for host in survivors:
                if host_filter.run_once_per_request:
                    key = (index, host.provider_id)
                    if key not in once:
                        once[key] = (
                            None
                            if host_filter.host_passes(host, current)
                            else host_filter.explain(host, current)
                        )
                    reason = once[key]
                else:
                    reason = (
                        None
                        if host_filter.host_passes(host, current)
                        else host_filter.explain(host, current)
                    )
                if reason is None:
                    passed.append(host)
                else:
                    record.add(host_filter.name, reason, host.host)
            survivors = passed
        if not survivors:
            failed = record
            break
        weighed = weigh_hosts(survivors, current, active_weighers)
        best = weighed[: max(1, host_subset_size)]
        chosen = best[0] if len(best) == 1 else _rng.choice(best)
        alternates = [host for host in weighed if host is not chosen][:max_alternates]
        if chosen.provider_id not in consumed:
            # Copy on first use: the caller's HostStates stay as they were read.
            chosen = chosen.copy()
            consumed.add(chosen.provider_id)
            pool[position[chosen.provider_id]] = chosen
        chosen.consume(current, instance_uuid)
        if current.group is not None:
            current = current.with_group(current.group.with_member_on(chosen.host))
        placements.append(
            Placement(instance_uuid=instance_uuid, host=chosen, alternates=alternates)
        )
        logger.debug(
            "instance %s planned on %s (%d candidates passed)",
            instance_uuid,
            chosen.host,
            len(weighed),
        )

    result = failed or explanation
    result.placed = len(placements)
    return Plan(placements=placements, explanation=result)

"""Quota limits and checks (Nova's DbQuotaDriver semantics, without reservations).

- Limits: ``QUOTA_DEFAULTS`` from settings, overridden per project by `ProjectQuota` rows;
  -1 means unlimited.
- Usage is counted, never stored, and counted by the app that owns the rows: instances, cores,
  RAM, server groups and their members by apps.servers, key pairs (per user) by apps.keypairs,
  networks, subnets, ports, routers, floating IPs, security groups and rules by apps.networks
  (Neutron's names, `NetworkQuotaResource`, apart from Nova's; a 409 `OverQuota` as Neutron).
  The checks here take the counts as arguments, so this app imports neither (they sit above it
  and call it).
- Checks raise 403s in Nova's words. A check is only as good as the lock around it: callers
  creating servers or server groups hold the Project row lock (`lock_project`) from the count
  until the rows are inserted, in one transaction, so that concurrent creates queue up behind
  each other and cannot both pass a check that only one of them fits. Key pair creation locks
  the owning User row instead (key pairs are counted per user).
"""

from collections.abc import Callable, Mapping

from django.db import connection, transaction

from apps.identity.models import Project
from apps.quotas.choices import NetworkQuotaResource, QuotaResource, VolumeQuotaResource
from apps.quotas.exceptions import (
    KeypairLimitExceeded,
    MetadataLimitExceeded,
    OverQuota,
    ProjectNotFoundForQuota,
    ServerGroupLimitExceeded,
    ServerGroupMemberLimitExceeded,
    VolumeOverQuota,
)
from apps.quotas.models import ProjectQuota
from computecloud.conf import cc_settings
from computecloud.exceptions import InvalidInput, QuotaExceeded

# The database column's bound (Nova's MAX_INT).
MAX_LIMIT = 0x7FFFFFFF
UNLIMITED = -1

# A project id -> what it uses now, by resource (for `update_quotas`, called under the lock).
UsageCounter = Callable[[str], Mapping[str, int]]


# --- limits ----------------------------------------------------------------------------------
def default_limits() -> dict[str, int]:
    """The limits a project without overrides has, for every resource Nova reports."""
    defaults: dict[str, int] = dict.fromkeys(QuotaResource.values, UNLIMITED)
    defaults.update({k: int(v) for k, v in cc_settings.QUOTA_DEFAULTS.items()})
    return defaults


def get_limits(project_id: str) -> dict[str, int]:
    """The project's limit for every resource: its overrides over the defaults."""
    limits = default_limits()
    limits.update(
        ProjectQuota.objects.filter(
            project_id=project_id, resource__in=QuotaResource.values
        ).values_list("resource", "hard_limit")
    )
    return limits


def network_default_limits() -> dict[str, int]:
    """The network limits a project without overrides has, by Neutron's names."""
    defaults: dict[str, int] = dict.fromkeys(NetworkQuotaResource.values, UNLIMITED)
    defaults.update({k: int(v) for k, v in cc_settings.NETWORK_QUOTA_DEFAULTS.items()})
    return defaults


def get_network_limits(project_id: str) -> dict[str, int]:
    """The project's network limits: its overrides over the defaults."""
    limits = network_default_limits()
    limits.update(
        ProjectQuota.objects.filter(
            project_id=project_id, resource__in=NetworkQuotaResource.values
        ).values_list("resource", "hard_limit")
    )
    return limits


def volume_default_limits() -> dict[str, int]:
    """The volume limits a project without overrides has, by Cinder's names."""
    defaults: dict[str, int] = dict.fromkeys(VolumeQuotaResource.values, UNLIMITED)
    defaults.update({k: int(v) for k, v in cc_settings.VOLUME_QUOTA_DEFAULTS.items()})
    return defaults


def get_volume_limits(project_id: str) -> dict[str, int]:
    """The project's volume limits: its overrides over the defaults."""
    limits = volume_default_limits()
    limits.update(
        ProjectQuota.objects.filter(
            project_id=project_id, resource__in=VolumeQuotaResource.values
        ).values_list("resource", "hard_limit")
    )
    return limits


# --- usage -----------------------------------------------------------------------------------


def usage(counts: Mapping[str, int]) -> dict[str, int]:
    """What a project uses, by resource, from the owners' `counts`: every other resource is 0
    (those that are limits, not counts; ``server_group_members``, which is per group and
    reported as 0 here, as Nova does; ``key_pairs`` for a project, as Nova reports it)."""
    used = dict.fromkeys(QuotaResource.values, 0)
    used.update(counts)
    return used


# --- the lock and the checks -----------------------------------------------------------------


def lock_project(project_id: str) -> Project:
    """Lock the project's row (SELECT ... FOR UPDATE) until the transaction ends.

    Every quota-checked create of servers (and server groups) in a project takes this lock
    first, then checks, then inserts, then commits; so they are serialised per project and
    the count each one checks includes everything committed before it.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_project() must be called inside transaction.atomic()")
    project = Project.objects.select_for_update().filter(pk=project_id).first()
    if project is None:
        raise ProjectNotFoundForQuota(project_id=project_id)
    return project


def _over(limit: int, used: int, requested: int) -> bool:
    return limit != UNLIMITED and used + requested > limit


def _raise_too_many_instances(
    overs: list[str],
    requested: Mapping[str, int | str],
    used: Mapping[str, int],
    limits: Mapping[str, int],
) -> None:
    """Nova's TooManyInstances message, several resources joined by ', '."""
    raise QuotaExceeded(
        resources=", ".join(overs),
        req=", ".join(str(requested[r]) for r in overs),
        used=", ".join(str(used[r]) for r in overs),
        allowed=", ".join(str(limits[r]) for r in overs),
    )


def check_server_quota(
    *, project: Project, used: Mapping[str, int], instances: int, cores: int, ram: int
) -> None:
    """Raise `QuotaExceeded` (403, "Quota exceeded for instances: Requested 1, but already
    used 10 of 10 instances") unless the project, which `used` its ``instances``, ``cores``
    and ``ram`` (apps.servers counts them), can take `instances` more servers using `cores`
    more vCPUs and `ram` more MiB in total.

    Precondition: the caller holds the Project row lock (`lock_project`, select_for_update)
    and counted `used` under it, inside the transaction that inserts the servers (or commits
    the resize), so that no concurrent create can slip in between the count and that insert.
    """
    limits = get_limits(project.pk)
    requested = {"instances": instances, "cores": cores, "ram": ram}
    overs = sorted(r for r, n in requested.items() if n and _over(limits[r], used[r], n))
    if overs:
        _raise_too_many_instances(overs, requested, used, limits)


def allowed_server_count(
    *,
    project: Project,
    used: Mapping[str, int],
    min_count: int,
    max_count: int,
    cores: int,
    ram: int,
    metadata_items: int = 0,
) -> int:
    """How many servers of `cores` vCPUs and `ram` MiB each, with `metadata_items` metadata
    items each, to create: `max_count` if they fit, else as many as fit if at least
    `min_count` do (Nova's multi-create rule); else raise `QuotaExceeded` naming what is over
    (`MetadataLimitExceeded` first, as Nova checks the metadata before counting).

    Precondition: as for `check_server_quota`, the caller holds the Project row lock and
    counted `used` under it, inside the transaction that inserts the servers.
    """
    limits = get_limits(project.pk)
    _check_metadata_items(limits, metadata_items)
    per_server = {"instances": 1, "cores": cores, "ram": ram}
    if all(limits[resource] == UNLIMITED for resource in per_server):
        return max_count  # nothing to count against
    fits = max_count
    for resource, each in per_server.items():
        if each and limits[resource] != UNLIMITED:
            fits = min(fits, max(0, limits[resource] - used[resource]) // each)
    if fits >= min_count:
        return fits
    requested_total = {r: max_count * each for r, each in per_server.items()}
    overs = sorted(r for r, n in requested_total.items() if n and _over(limits[r], used[r], n))
    shown: dict[str, int | str] = dict(requested_total)
    shown["instances"] = str(min_count) if min_count == max_count else f"{min_count}-{max_count}"
    _raise_too_many_instances(overs, shown, used, limits)
    raise AssertionError("unreachable")  # pragma: no cover


def check_server_group_quota(*, project: Project, used: int, adding: int = 1) -> None:
    """Raise unless the project, which has `used` server groups, may have `adding` more.
    Precondition: the caller holds the Project row lock and counted `used` under it, inside
    the transaction that inserts the group."""
    limit = get_limits(project.pk)["server_groups"]
    if _over(limit, used, adding):
        raise ServerGroupLimitExceeded()


def check_server_group_members(*, project_id: str, used: int, adding: int) -> None:
    """Raise unless `adding` more servers fit in a group of project `project_id` that has
    `used` members (counted per user when the caller counts so, as Nova does). Precondition:
    the caller holds the Project row lock and counted `used` under it, inside the transaction
    that adds the members."""
    limit = get_limits(project_id)["server_group_members"]
    if _over(limit, used, adding):
        raise ServerGroupMemberLimitExceeded()


def check_metadata_items(*, project: Project, count: int) -> None:
    """A server may carry at most ``metadata_items`` metadata items (a limit, not a count)."""
    _check_metadata_items(get_limits(project.pk), count)


def _check_metadata_items(limits: Mapping[str, int], count: int) -> None:
    if _over(limits["metadata_items"], 0, count):
        raise MetadataLimitExceeded(allowed=limits["metadata_items"])


def check_key_pair_quota(*, limit_project_id: str | None, used: int, adding: int = 1) -> None:
    """Raise unless a user who owns `used` key pairs may own `adding` more; the limit is
    `limit_project_id`'s ``key_pairs`` (the caller's project; the default when unscoped), the
    count is per user. Precondition: the caller holds the User row lock and counted `used`
    under it, inside the transaction that inserts."""
    limits = get_limits(limit_project_id) if limit_project_id else default_limits()
    if _over(limits["key_pairs"], used, adding):
        raise KeypairLimitExceeded()


def check_network_quota(*, project_id: str, resource: str, used: int, adding: int = 1) -> None:
    """Raise `OverQuota` (409, Neutron's "Quota exceeded for resources: ['port']."), unless
    the project, which has `used` of the network `resource` (apps.networks counts them), may
    have `adding` more. Precondition: the caller holds the Project row lock (`lock_project`)
    and counted `used` under it, inside the transaction that inserts."""
    if _over(get_network_limits(project_id)[resource], used, adding):
        raise OverQuota(overs=resource)


def check_volume_quota(
    *,
    project: Project,
    used: Mapping[str, int],
    volumes: int = 0,
    gigabytes: int = 0,
    snapshots: int = 0,
    volume_size: int | None = None,
) -> None:
    """Raise `VolumeOverQuota` (413, Cinder's words) unless the project, which `used` its
    ``volumes``, ``gigabytes`` and ``snapshots`` (apps.volumes counts them), can take
    `volumes` more volumes and `snapshots` more snapshots of `gigabytes` GiB in all. A volume
    of `volume_size` GiB (by default a new one's share of `gigabytes`; an extend's new size)
    is also held to ``per_volume_gigabytes``.

    Precondition: the caller holds the Project row lock (`lock_project`) and counted `used`
    under it, inside the transaction that inserts the rows.
    """
    limits = get_volume_limits(project.pk)
    per_volume = limits["per_volume_gigabytes"]
    if volume_size is None and volumes:
        volume_size = gigabytes // volumes
    if volume_size is not None and per_volume != UNLIMITED and volume_size > per_volume:
        raise VolumeOverQuota(
            reason=f"VolumeSizeExceedsLimit: Requested volume size {volume_size}G is "
            f"larger than maximum allowed limit {per_volume}G."
        )
    if gigabytes and _over(limits["gigabytes"], used.get("gigabytes", 0), gigabytes):
        kind = "volume" if volumes else "snapshot"
        raise VolumeOverQuota(
            reason=f"{kind.capitalize()}SizeExceedsAvailableQuota: Requested volume or snapshot "
            f"exceeds allowed gigabytes quota. Requested {gigabytes}G, quota is "
            f"{limits['gigabytes']}G and {used.get('gigabytes', 0)}G has been consumed."
        )
    if volumes and _over(limits["volumes"], used.get("volumes", 0), volumes):
        raise VolumeOverQuota(
            reason=f"VolumeLimitExceeded: Maximum number of volumes allowed "
            f"({limits['volumes']}) exceeded for quota 'volumes'."
        )
    if snapshots and _over(limits["snapshots"], used.get("snapshots", 0), snapshots):
        raise VolumeOverQuota(
            reason=f"SnapshotLimitExceeded: Maximum number of snapshots allowed "
            f"({limits['snapshots']}) exceeded for quota 'snapshots'."
        )


# --- writes ----------------------------------------------------------------------------------


def update_quotas(
    *,
    project: Project,
    limits: Mapping[str, int],
    force: bool = False,
    count_usage: UsageCounter | None = None,
) -> dict[str, int]:
    """Set the project's limits for the resources in `limits`; returns all its limits.

    Without `force`, a limit below what the project already uses, as `count_usage` counts it,
    is refused (400), as Nova does; -1 is always accepted. `count_usage` is called with the
    project row locked, so the check and the write see the same usage as any concurrent
    create. Without it nothing is counted (set-up: a limit for a project with nothing yet).
    """
    with transaction.atomic():
        lock_project(project.pk)
        used = usage(count_usage(project.pk) if count_usage is not None else {})
        for resource, limit in limits.items():
            if resource not in QuotaResource.values:
                raise InvalidInput(f"Unknown quota resource {resource}.")
            if limit < UNLIMITED or limit > MAX_LIMIT:
                raise InvalidInput(
                    f"Quota limit {limit} for {resource} must be between -1 and {MAX_LIMIT}."
                )
            if not force and limit != UNLIMITED and limit < used[resource]:
                raise InvalidInput(
                    f"Quota limit {limit} for {resource} must be greater than or equal to "
                    f"already used and reserved {used[resource]}."
                )
        for resource, limit in limits.items():
            ProjectQuota.objects.update_or_create(
                project=project, resource=resource, defaults={"hard_limit": limit}
            )
    return get_limits(project.pk)


def revert_quotas(*, project: Project) -> None:
    """Drop the project's overrides of Nova's resources: it is back to the defaults."""
    ProjectQuota.objects.filter(project=project, resource__in=QuotaResource.values).delete()


def update_network_quotas(*, project: Project, limits: Mapping[str, int]) -> dict[str, int]:
    """Set the project's network limits for the resources in `limits` (Neutron's PUT
    /v2.0/quotas/{project_id}); returns all its network limits. As Neutron, a limit below
    current usage is accepted: it only refuses further creates."""
    with transaction.atomic():
        lock_project(project.pk)
        for resource, limit in limits.items():
            if resource not in NetworkQuotaResource.values:
                raise InvalidInput(f"Unrecognized attribute(s) '{resource}'")
            if limit < UNLIMITED or limit > MAX_LIMIT:
                raise InvalidInput(
                    f"Quota limit {limit} for {resource} must be between -1 and {MAX_LIMIT}."
                )
        for resource, limit in limits.items():
            ProjectQuota.objects.update_or_create(
                project=project, resource=resource, defaults={"hard_limit": limit}
            )
    return get_network_limits(project.pk)


def revert_network_quotas(*, project: Project) -> None:
    """Drop the project's network overrides (Neutron's DELETE /v2.0/quotas/{project_id})."""
    ProjectQuota.objects.filter(project=project, resource__in=NetworkQuotaResource.values).delete()


def projects_with_network_quotas() -> list[str]:
    """Projects with an override of a network limit (Neutron's GET /v2.0/quotas)."""
    return list(
        ProjectQuota.objects.filter(resource__in=NetworkQuotaResource.values)
        .values_list("project_id", flat=True)
        .distinct()
        .order_by("project_id")
    )


def update_volume_quotas(
    *,
    project: Project,
    limits: Mapping[str, int],
    count_usage: UsageCounter | None = None,
) -> dict[str, int]:
    """Set the project's volume limits for the resources in `limits` (Cinder's PUT
    os-quota-sets); returns all its volume limits. As Cinder, a limit below what the project
    uses (as `count_usage` counts it, under the project lock) is refused (400)."""
    with transaction.atomic():
        lock_project(project.pk)
        used = dict(count_usage(project.pk)) if count_usage is not None else {}
        for resource, limit in limits.items():
            if resource not in VolumeQuotaResource.values:
                raise InvalidInput(f"Bad key(s) in quota set: {resource}")
            if limit < UNLIMITED or limit > MAX_LIMIT:
                raise InvalidInput(
                    f"Quota limit {limit} for {resource} must be between -1 and {MAX_LIMIT}."
                )
            if limit != UNLIMITED and limit < used.get(resource, 0):
                raise InvalidInput(
                    f"Quota limit {limit} for {resource} must be greater than or equal to "
                    f"already used and reserved {used[resource]}."
                )
        for resource, limit in limits.items():
            ProjectQuota.objects.update_or_create(
                project=project, resource=resource, defaults={"hard_limit": limit}
            )
    return get_volume_limits(project.pk)


def revert_volume_quotas(*, project: Project) -> None:
    """Drop the project's volume overrides (Cinder's DELETE os-quota-sets)."""
    ProjectQuota.objects.filter(project=project, resource__in=VolumeQuotaResource.values).delete()

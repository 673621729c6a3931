"""RequestSpec: everything one scheduling request asks for, as a frozen value.

Built once per request by `RequestSpec.from_request(...)` (the conductor, the dry-run view,
tests); filters and weighers only read it. The resource amounts per instance are derived here
from the flavor (Nova's ``resources_from_flavor``: VCPU, MEMORY_MB, DISK_GB = root + ephemeral
+ swap rounded up to GiB) and ``resources:<CLASS>=<n>`` extra specs, which may add custom
classes or zero out standard ones. ``trait:<NAME>=required|forbidden`` extra specs (and image
properties) become required/forbidden traits, matched in the candidate query.

The server group is loaded with its members' current hosts (`SpecReader.load_group`); the
scheduling pass reloads it under the group lock before it decides (see docs/scheduler.md,
"Locking"). What building a spec reads from the database comes through `SpecReader`, which
apps/scheduler/candidates.py implements and `SchedulerConfig.ready()` installs: this module
never touches the ORM (import-linter, pyproject.toml).
Must not: write anything.
"""

from __future__ import annotations

import dataclasses
import math
import uuid as uuid_lib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from apps.placement.choices import DISK_GB, MEMORY_MB, VCPU, is_valid_resource_class, is_valid_trait
from computecloud.conf import cc_settings
from computecloud.exceptions import InvalidInput

AFFINITY = "affinity"
ANTI_AFFINITY = "anti-affinity"
SOFT_AFFINITY = "soft-affinity"
SOFT_ANTI_AFFINITY = "soft-anti-affinity"
# Policies whose check must be atomic with the claim (the pass takes the group lock).
HARD_POLICIES = frozenset({AFFINITY, ANTI_AFFINITY})

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def canonical_uuid(value: Any) -> str:
    """The uuid's canonical text; InvalidInput if `value` is not one."""
    try:
        return str(uuid_lib.UUID(str(value)))
    except ValueError:
        raise InvalidInput(reason=f"{value!r} is not a valid uuid") from None


def _uuid_list(value: Any) -> tuple[str, ...]:
    if value in (None, "", []):
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(canonical_uuid(item) for item in items)


@dataclass(frozen=True, slots=True)
class FlavorSpec:
    vcpus: int
    memory_mb: int
    root_gb: int = 0
    ephemeral_gb: int = 0
    swap: int = 0  # MiB
    extra_specs: Mapping[str, str] = field(default_factory=_empty)
    name: str = ""
    flavorid: str = ""

    @classmethod
    def from_any(cls, flavor: Any) -> FlavorSpec:
        """From a `Flavor` model, a Nova-shaped flavor dict (``ram``, ``disk``,
        ``OS-FLV-EXT-DATA:ephemeral``) or our own embedded shape (``memory_mb``, ``root_gb``)."""
        if isinstance(flavor, FlavorSpec):
            return flavor
        if isinstance(flavor, Mapping):
            get = flavor.get
            extra = get("extra_specs") or {}
            return cls(
                vcpus=int(get("vcpus") or 0),
                memory_mb=int(get("memory_mb", get("ram")) or 0),
                root_gb=int(get("root_gb", get("disk")) or 0),
                ephemeral_gb=int(
                    get("ephemeral_gb", get("OS-FLV-EXT-DATA:ephemeral", get("ephemeral"))) or 0
                ),
                swap=int(get("swap") or 0),
                extra_specs=_frozen({str(k): str(v) for k, v in dict(extra).items()}),
                name=str(get("name") or get("original_name") or ""),
                flavorid=str(get("flavorid", get("id")) or ""),
            )
        # A Flavor model instance (apps.flavors); its extra specs are a related table.
        extra_specs = {spec.key: spec.value for spec in flavor.extra_specs.all()}
        return cls(
            vcpus=flavor.vcpus,
            memory_mb=flavor.memory_mb,
            root_gb=flavor.root_gb,
            ephemeral_gb=flavor.ephemeral_gb,
            swap=flavor.swap or 0,
            extra_specs=_frozen(extra_specs),
            name=flavor.name,
            flavorid=flavor.flavorid,
        )


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A server group as the pass sees it: policy, rules and where its members are."""

    uuid: str
    policy: str
    rules: Mapping[str, Any] = field(default_factory=_empty)
    # host → number of the group's members there (not counting the instances being scheduled).
    member_hosts: Mapping[str, int] = field(default_factory=_empty)

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(self.member_hosts)

    @property
    def max_server_per_host(self) -> int:
        """Anti-affinity's per-host limit (rules, microversion 2.64); 1 by default."""
        try:
            return max(1, int(self.rules.get("max_server_per_host", 1)))
        except (TypeError, ValueError):
            return 1

    def with_member_on(self, host: str) -> GroupSpec:
        hosts = dict(self.member_hosts)
        hosts[host] = hosts.get(host, 0) + 1
        return dataclasses.replace(self, member_hosts=MappingProxyType(hosts))


class SpecReader(Protocol):
    """The database reads building a spec needs (apps/scheduler/candidates.py)."""

    def load_group(self, group_ref: Any, *, exclude: Iterable[str] = ()) -> GroupSpec:
        """The group (a `ServerGroup` or its uuid), its members in `exclude` left out."""
        ...

    def may_cold_migrate_in_place(self, host: str) -> bool:
        """Whether a cold migration may stay on `host` (it has the trait)."""
        ...


_reader: SpecReader | None = None


def install_reader(reader: SpecReader) -> None:
    """Set where `RequestSpec.from_request` reads groups and hosts (`SchedulerConfig.ready`)."""
    global _reader
    _reader = reader


def _installed_reader() -> SpecReader:
    if _reader is None:
        raise RuntimeError("the scheduler app is not ready: no SpecReader installed")
    return _reader


@dataclass(frozen=True)
class RequestSpec:
    flavor: FlavorSpec
    project_id: str
    user_id: str
    # One uuid per instance to place (consumers of the allocations).
    instance_uuids: tuple[str, ...]
    # Resource class → amount, per instance (derived from the flavor and extra specs).
    resources: Mapping[str, int]
    image_properties: Mapping[str, Any] = field(default_factory=_empty)
    availability_zone: str | None = None
    group: GroupSpec | None = None
    same_host: tuple[str, ...] = ()
    different_host: tuple[str, ...] = ()
    scheduler_hints: Mapping[str, Any] = field(default_factory=_empty)
    # Hosts never to pick (the ones already tried on a reschedule; the source of a migration).
    ignore_hosts: frozenset[str] = frozenset()
    # Admin "az:host[:node]" form: only that host, and filters are skipped (Nova's rule).
    force_host: str | None = None
    force_node: str | None = None
    # A requested destination (2.74 host, migrate to host): only that host, filters still run.
    requested_host: str | None = None
    required_traits: frozenset[str] = frozenset()
    forbidden_traits: frozenset[str] = frozenset()
    # Moves (resize, cold migration): the instance's current host and the migration whose
    # uuid takes over the source allocation while the move lasts.
    is_move: bool = False
    is_resize: bool = False
    source_host: str | None = None
    migration_uuid: str | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty, compare=False)

    @property
    def num_instances(self) -> int:
        return len(self.instance_uuids)

    @property
    def extra_specs(self) -> Mapping[str, str]:
        return self.flavor.extra_specs

    @property
    def restricts_hosts(self) -> bool:
        return bool(self.force_host or self.requested_host)

    def with_group(self, group: GroupSpec | None) -> RequestSpec:
        return dataclasses.replace(self, group=group)

    # ------------------------------------------------------------------------------------
    @classmethod
    def from_request(
        cls,
        *,
        flavor: Any,
        project_id: str,
        user_id: str = "",
        instance_uuids: Sequence[Any] = (),
        num_instances: int | None = None,
        image_properties: Mapping[str, Any] | None = None,
        availability_zone: str | None = None,
        server_group: Any = None,
        scheduler_hints: Mapping[str, Any] | None = None,
        ignore_hosts: Iterable[str] = (),
        requested_host: str | None = None,
        is_move: bool = False,
        is_resize: bool = False,
        source_host: str | None = None,
        migration_uuid: Any = None,
    ) -> RequestSpec:
        """Build the spec for one scheduling request.

        - `flavor`: a `Flavor`, a Nova-shaped flavor dict or ``Server.flavor``.
        - `instance_uuids`: the instances to place; if empty, `num_instances` placeholders
          (the dry run). `num_instances` defaults to ``len(instance_uuids)``.
        - `availability_zone`: ``"az"``, or the admin forced form ``"az:host[:node]"``
          (the caller checks ``os_compute_api:servers:create:forced_host`` first).
        - `server_group`: a `ServerGroup`, its uuid, or None (``scheduler_hints["group"]``
          is used then); its members' hosts are loaded now.
        - `scheduler_hints`: ``same_host`` / ``different_host`` (instance uuid or list),
          ``group``.
        - moves: `is_move` with `source_host` and `migration_uuid`; `is_resize` when the
          flavor changes (a resize may stay on its host if ALLOW_RESIZE_TO_SAME_HOST, a cold
          migration only onto a host with COMPUTE_SAME_HOST_COLD_MIGRATE).
        """
        flavor_spec = FlavorSpec.from_any(flavor)
        hints = dict(scheduler_hints or {})
        uuids = tuple(canonical_uuid(u) for u in instance_uuids)
        if not uuids:
            count = 1 if num_instances is None else int(num_instances)
            if count < 1:
                raise InvalidInput(reason="num_instances must be at least 1")
            uuids = tuple(str(uuid_lib.uuid4()) for _ in range(count))
        elif num_instances is not None and num_instances != len(uuids):
            raise InvalidInput(reason="num_instances does not match instance_uuids")

        az, force_host, force_node = _parse_availability_zone(availability_zone)

        group_ref = server_group if server_group is not None else hints.get("group")
        if isinstance(group_ref, list):
            group_ref = group_ref[0] if group_ref else None
        group = _installed_reader().load_group(group_ref, exclude=uuids) if group_ref else None

        image_props = dict(image_properties or {})
        required, forbidden = _traits_from(flavor_spec.extra_specs, image_props)
        ignored = set(ignore_hosts)
        if is_move and source_host and not requested_host:
            ignored.update(_source_host_exclusion(is_resize=is_resize, source_host=source_host))

        return cls(
            flavor=flavor_spec,
            project_id=str(project_id),
            user_id=str(user_id or ""),
            instance_uuids=uuids,
            resources=MappingProxyType(resources_from_flavor(flavor_spec)),
            image_properties=_frozen(image_props),
            availability_zone=az,
            group=group,
            same_host=_uuid_list(hints.get("same_host")),
            different_host=_uuid_list(hints.get("different_host")),
            scheduler_hints=_frozen(hints),
            ignore_hosts=frozenset(ignored),
            force_host=force_host,
            force_node=force_node,
            requested_host=requested_host or None,
            required_traits=required,
            forbidden_traits=forbidden,
            is_move=is_move,
            is_resize=is_resize,
            source_host=source_host,
            migration_uuid=canonical_uuid(migration_uuid) if migration_uuid else None,
        )


def resources_from_flavor(flavor: FlavorSpec) -> dict[str, int]:
    """Per-instance amounts by resource class; zero amounts are left out."""
    resources = {
        VCPU: flavor.vcpus,
        MEMORY_MB: flavor.memory_mb,
        DISK_GB: flavor.root_gb + flavor.ephemeral_gb + math.ceil(flavor.swap / 1024),
    }
    for key, value in flavor.extra_specs.items():
        if not key.startswith("resources:"):
            continue
        resource_class = key.split(":", 1)[1]
        if not is_valid_resource_class(resource_class):
            raise InvalidInput(reason=f"invalid resource class in extra spec {key}")
        try:
            amount = int(value)
        except ValueError:
            raise InvalidInput(reason=f"extra spec {key} must be an integer") from None
        if amount < 0:
            raise InvalidInput(reason=f"extra spec {key} must not be negative")
        resources[resource_class] = amount
    return {rc: amount for rc, amount in resources.items() if amount > 0}


def _traits_from(
    extra_specs: Mapping[str, str], image_properties: Mapping[str, Any]
) -> tuple[frozenset[str], frozenset[str]]:
    required: set[str] = set()
    forbidden: set[str] = set()
    for source in (extra_specs, image_properties):
        for key, value in source.items():
            if not key.startswith("trait:"):
                continue
            name = key.split(":", 1)[1]
            if not is_valid_trait(name):
                raise InvalidInput(reason=f"invalid trait {name}")
            if value == "required":
                required.add(name)
            elif value == "forbidden":
                forbidden.add(name)
    if required & forbidden:
        names = ", ".join(sorted(required & forbidden))
        raise InvalidInput(reason=f"traits both required and forbidden: {names}")
    return frozenset(required), frozenset(forbidden)


def _parse_availability_zone(value: str | None) -> tuple[str | None, str | None, str | None]:
    """``"az"`` → (az, None, None); ``"az:host[:node]"`` → (az or None, host, node)."""
    if not value:
        return None, None, None
    if ":" not in value:
        return value, None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise InvalidInput(reason=f"invalid availability zone {value!r}")
    az = parts[0] or None
    host = parts[1] or None
    node = parts[2] if len(parts) == 3 and parts[2] else None
    return az, host, node


def _source_host_exclusion(*, is_resize: bool, source_host: str) -> set[str]:
    """The source host is excluded unless the move may stay there.

    A resize may, if ALLOW_RESIZE_TO_SAME_HOST; a cold migration only onto a host that has
    the COMPUTE_SAME_HOST_COLD_MIGRATE trait (checked by the candidate query, so here it is
    simply not excluded when the setting allows and the host has the trait).
    """
    if not cc_settings.ALLOW_RESIZE_TO_SAME_HOST:
        return {source_host}
    if is_resize:
        return set()
    return set() if _installed_reader().may_cold_migrate_in_place(source_host) else {source_host}

"""Security groups and their rules (Neutron's security-group extension).

Every project has one group named ``default``, made on first need (a port without groups, a
listing): ingress from members of the group itself and egress anywhere, for IPv4 and IPv6.
A new group gets the two egress rules. Rules are allow rules; what a host enforces is their
union per port, with remote groups resolved to member addresses (apps/networks/hosts.py).

Duplicates are the database's to refuse (a unique index over the rule's normalised fields,
NULLs equal), so concurrent identical creates give one rule and one 409.
"""

import ipaddress
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from apps.identity.models import Project
from apps.networks import lookups, sync, usage
from apps.networks.choices import DEFAULT_SECURITY_GROUP, Direction, EtherType
from apps.networks.exceptions import (
    InvalidInput,
    SecurityGroupInUse,
    SecurityGroupRuleExists,
)
from apps.networks.ipam import violated_constraint
from apps.networks.lookups import Scope
from apps.networks.models import SecurityGroup, SecurityGroupRule
from apps.networks.revisions import bump
from computecloud.exceptions import Conflict

# Protocols by name (Neutron's list); a number 0-255 is taken as well.
PROTOCOL_NUMBERS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
    "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}  # fmt: skip
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
ANY_PROTOCOL = {"any", "0"}
MAX_PORT = 65535


class DefaultSecurityGroupConflict(Conflict):
    msg_fmt = "Default security group %(reason)s."


@dataclass(frozen=True)
class RuleRequest:
    direction: str
    ethertype: str = EtherType.IPV4
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = ""


def ensure_default_security_group(project_id: str) -> SecurityGroup:
    """The project's ``default`` group, made now if it is missing (concurrent callers get
    the same one: a partial unique index allows one per project)."""
    existing = SecurityGroup.objects.filter(project_id=project_id, is_default=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            group = SecurityGroup.objects.create(
                project_id=project_id,
                name=DEFAULT_SECURITY_GROUP,
                description="Default security group",
                is_default=True,
            )
            for ethertype in EtherType.values:
                _insert_rule(group, direction=Direction.EGRESS, ethertype=ethertype)
                _insert_rule(
                    group, direction=Direction.INGRESS, ethertype=ethertype, remote_group=group
                )
            return group
    except IntegrityError as exc:
        if violated_constraint(exc) != "security_group_one_default":
            raise
        return SecurityGroup.objects.get(project_id=project_id, is_default=True)


def resolve_security_groups(project_id: str, names_or_ids: list[str]) -> list[SecurityGroup]:
    """The project's groups named by id or name, in order (Nova's ``security_groups`` take
    either); `SecurityGroupNotFound` for one the project does not have, an ambiguous name
    included (several groups so named)."""
    scope = Scope(project_id=project_id)
    groups: list[SecurityGroup] = []
    for key in names_or_ids:
        if key == DEFAULT_SECURITY_GROUP:
            group = ensure_default_security_group(project_id)
        elif lookups.as_uuid(key) is not None:
            group = lookups.security_group(key, scope)
        else:
            named = list(SecurityGroup.objects.filter(project_id=project_id, name=key)[:2])
            if len(named) != 1:
                lookups.security_group(key, scope)  # raises the 404
            group = named[0]
        if group not in groups:
            groups.append(group)
    return groups


# --- groups -----------------------------------------------------------------------------------
def create_security_group(
    *, project_id: str, name: str, description: str = "", stateful: bool = True
) -> SecurityGroup:
    if name == DEFAULT_SECURITY_GROUP:
        ensure_default_security_group(project_id)
        raise DefaultSecurityGroupConflict(reason="already exists")
    ensure_default_security_group(project_id)
    with transaction.atomic():
        usage.reserve(project_id, "security_group")
        group = SecurityGroup.objects.create(
            project_id=project_id, name=name, description=description, stateful=stateful
        )
        for ethertype in EtherType.values:
            _insert_rule(group, direction=Direction.EGRESS, ethertype=ethertype)
    return group


def update_security_group(group: SecurityGroup, **changes: Any) -> SecurityGroup:
    """``name``, ``description``, ``stateful``; the default group keeps its name."""
    if group.is_default and changes.get("name", group.name) != group.name:
        raise DefaultSecurityGroupConflict(reason="cannot be renamed")
    with transaction.atomic():
        bump(SecurityGroup, group.pk, **changes)
    group.refresh_from_db()
    return group


def delete_security_group(group: SecurityGroup, *, by_admin: bool = False) -> None:
    """409 while a port uses the group; a project's ``default`` only goes by an admin's hand
    (and is made again on next need)."""
    with transaction.atomic():
        locked = SecurityGroup.objects.select_for_update().filter(pk=group.pk).first()
        if locked is None:
            return
        if locked.is_default and not by_admin:
            raise SecurityGroupInUse(id=group.pk, reason="is the project's default group")
        if locked.ports.exists():
            raise SecurityGroupInUse(id=group.pk, reason="in use")
        locked.delete()


def release_default_security_group(project: Project) -> None:
    """A deleted project's ``default`` group goes with it (Tempest's clean-up deletes it first,
    the CLI's does not): the service made it, not the user. While a port uses it, it stays
    and, with the port, keeps the project (409)."""
    SecurityGroup.objects.filter(project=project, is_default=True, ports__isnull=True).delete()


# --- rules ------------------------------------------------------------------------------------
def _normalize_protocol(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ANY_PROTOCOL:
        return None
    if text in PROTOCOL_NUMBERS:
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise InvalidInput(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{sorted(PROTOCOL_NUMBERS)} and integer representations [0 to 255] are supported."
    )


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    if protocol in PORT_PROTOCOLS:
        if low is None or high is None:
            raise InvalidInput(
                "For TCP/UDP protocols, port_range_min and port_range_max are both set"
            )
        if not 1 <= low <= high <= MAX_PORT:
            raise InvalidInput(
                "For TCP/UDP protocols, port_range_min must be <= port_range_max, both in "
                f"[1, {MAX_PORT}]"
            )
    elif protocol in ICMP_PROTOCOLS:
        if low is None and high is not None:
            raise InvalidInput(
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                "(port-range-min) is missing."
            )
        for value, what in ((low, "type"), (high, "code")):
            if value is not None and not 0 <= value <= 255:
                raise InvalidInput(f"Invalid value for ICMP {what}: {value}")
    else:
        raise InvalidInput(
            f"Port ranges are only valid for TCP, UDP, SCTP and ICMP, not {protocol}"
        )


def _normalized_cidr(prefix: str | None, ethertype: str) -> str | None:
    if prefix is None:
        return None
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise InvalidInput(f"'{prefix}' is not a valid IP prefix") from None
    if f"IPv{network.version}" != ethertype:
        raise InvalidInput(f"Conflicting value ethertype {ethertype} for CIDR {prefix}")
    return None if network.prefixlen == 0 else str(network)


def _insert_rule(
    group: SecurityGroup,
    *,
    direction: str,
    ethertype: str,
    protocol: str | None = None,
    port_range_min: int | None = None,
    port_range_max: int | None = None,
    remote_ip_prefix: str | None = None,
    normalized_cidr: str | None = None,
    remote_group: SecurityGroup | None = None,
    description: str = "",
) -> SecurityGroupRule:
    return SecurityGroupRule.objects.create(
        security_group=group,
        project_id=group.project_id,
        direction=direction,
        ethertype=ethertype,
        protocol=protocol,
        port_range_min=port_range_min,
        port_range_max=port_range_max,
        remote_ip_prefix=remote_ip_prefix,
        normalized_cidr=normalized_cidr,
        remote_group=remote_group,
        description=description,
    )


def create_security_group_rule(
    *, group: SecurityGroup, rule: RuleRequest, scope: Scope
) -> SecurityGroupRule:
    """A rule in `group` (which the caller may change). The remote group must be one `scope`
    sees; a remote prefix and a remote group together are a 400, as is an ethertype that is
    not the prefix's; a duplicate is 409 `SecurityGroupRuleExists`."""
    if rule.direction not in Direction.values:
        raise InvalidInput(f"'{rule.direction}' is not in ['ingress', 'egress']")
    if rule.ethertype not in EtherType.values:
        raise InvalidInput(f"'{rule.ethertype}' is not in ['IPv4', 'IPv6']")
    if rule.remote_ip_prefix is not None and rule.remote_group_id is not None:
        raise InvalidInput("Only remote_ip_prefix or remote_group_id may be provided.")
    protocol = _normalize_protocol(rule.protocol)
    _check_ports(protocol, rule.port_range_min, rule.port_range_max)
    normalized = _normalized_cidr(rule.remote_ip_prefix, rule.ethertype)
    remote_group = (
        lookups.security_group(rule.remote_group_id, scope)
        if rule.remote_group_id is not None
        else None
    )
    try:
        with transaction.atomic():
            usage.reserve(group.project_id, "security_group_rule")
            created = _insert_rule(
                group,
                direction=rule.direction,
                ethertype=rule.ethertype,
                protocol=protocol,
                port_range_min=rule.port_range_min,
                port_range_max=rule.port_range_max,
                remote_ip_prefix=rule.remote_ip_prefix,
                normalized_cidr=normalized,
                remote_group=remote_group,
                description=rule.description,
            )
            bump(SecurityGroup, group.pk)
            sync.sync_project(group.project_id)
            return created
    except IntegrityError as exc:
        if violated_constraint(exc) != "security_group_rule_unique":
            raise
    existing = SecurityGroupRule.objects.filter(
        security_group=group,
        direction=rule.direction,
        ethertype=rule.ethertype,
        protocol=protocol,
        port_range_min=rule.port_range_min,
        port_range_max=rule.port_range_max,
        normalized_cidr=normalized,
        remote_group=remote_group,
    ).first()
    raise SecurityGroupRuleExists(rule_id=existing.pk if existing else "unknown")


def delete_security_group_rule(rule: SecurityGroupRule) -> None:
    with transaction.atomic():
        SecurityGroupRule.objects.filter(pk=rule.pk).delete()
        bump(SecurityGroup, rule.security_group_id)
        sync.sync_project(rule.security_group.project_id)

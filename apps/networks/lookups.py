"""Finding one resource as a caller may see it: an id that is not a UUID, unknown, or
another project's answers the same 404 (no oracle), never a 500.

`Scope` says who is looking: a project (members see what its visibility querysets allow) or
an admin (everything).
"""

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from apps.networks.exceptions import (
    FloatingIPNotFound,
    NetworkNotFound,
    PortNotFound,
    RouterNotFound,
    SecurityGroupNotFound,
    SecurityGroupRuleNotFound,
    SubnetNotFound,
)
from apps.networks.models import (
    FloatingIP,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Scope:
    """Who looks: `project_id` (None for an unscoped token) and whether they are admin."""

    project_id: str | None
    is_admin: bool = False

    def owns(self, obj: Any) -> bool:
        return self.is_admin or (self.project_id is not None and obj.project_id == self.project_id)


SYSTEM = Scope(project_id=None, is_admin=True)  # the compute side and the host payloads


def as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _one(queryset: QuerySet[M], key: Any) -> M | None:
    pk = as_uuid(key)
    return None if pk is None else queryset.filter(pk=pk).first()


def visible(model: type[M], scope: Scope) -> QuerySet[M]:
    return model.objects.visible_to(scope.project_id, is_admin=scope.is_admin)  # type: ignore[attr-defined]


def network(network_id: Any, scope: Scope, *, lock: bool = False) -> Network:
    queryset = visible(Network, scope)
    found = _one(queryset.select_for_update(of=("self",)) if lock else queryset, network_id)
    if found is None:
        raise NetworkNotFound(net_id=network_id)
    return found


def subnet(subnet_id: Any, scope: Scope) -> Subnet:
    found = _one(visible(Subnet, scope).select_related("network"), subnet_id)
    if found is None:
        raise SubnetNotFound(subnet_id=subnet_id)
    return found


def port(port_id: Any, scope: Scope, *, lock: bool = False) -> Port:
    queryset = visible(Port, scope).select_related("network")
    found = _one(queryset.select_for_update(of=("self",)) if lock else queryset, port_id)
    if found is None:
        raise PortNotFound(port_id=port_id)
    return found


def security_group(group_id: Any, scope: Scope) -> SecurityGroup:
    found = _one(visible(SecurityGroup, scope), group_id)
    if found is None:
        raise SecurityGroupNotFound(id=group_id)
    return found


def security_group_rule(rule_id: Any, scope: Scope) -> SecurityGroupRule:
    found = _one(visible(SecurityGroupRule, scope), rule_id)
    if found is None:
        raise SecurityGroupRuleNotFound(id=rule_id)
    return found


def router(router_id: Any, scope: Scope, *, lock: bool = False) -> Router:
    queryset = visible(Router, scope)
    found = _one(queryset.select_for_update() if lock else queryset, router_id)
    if found is None:
        raise RouterNotFound(router_id=router_id)
    return found


def floating_ip(floatingip_id: Any, scope: Scope, *, lock: bool = False) -> FloatingIP:
    queryset = visible(FloatingIP, scope)
    found = _one(queryset.select_for_update() if lock else queryset, floatingip_id)
    if found is None:
        raise FloatingIPNotFound(floatingip_id=floatingip_id)
    return found

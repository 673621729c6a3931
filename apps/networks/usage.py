"""What a project uses of the network quotas, counted here, where the rows are (the quotas
app keeps limits and checks and counts nothing: docs/architecture.md, "The app order").

`reserve` is how every create checks: it takes the project's row lock, counts under it, and
checks, inside the create's transaction, so concurrent creates of one project queue up and
cannot both pass a check only one of them fits.
"""

from collections.abc import Callable

from apps.networks.choices import HIDDEN_OWNERS
from apps.networks.models import (
    FloatingIP,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from apps.quotas import services as quotas

COUNTERS: dict[str, Callable[[str], int]] = {
    "network": lambda project_id: Network.objects.filter(project_id=project_id).count(),
    "subnet": lambda project_id: Subnet.objects.filter(project_id=project_id).count(),
    # The addresses the service holds for gateways and floating IPs are not the user's ports.
    "port": lambda project_id: (
        Port.objects.filter(project_id=project_id).exclude(device_owner__in=HIDDEN_OWNERS).count()
    ),
    "router": lambda project_id: Router.objects.filter(project_id=project_id).count(),
    "floatingip": lambda project_id: FloatingIP.objects.filter(project_id=project_id).count(),
    "security_group": lambda project_id: SecurityGroup.objects.filter(
        project_id=project_id
    ).count(),
    "security_group_rule": lambda project_id: SecurityGroupRule.objects.filter(
        project_id=project_id
    ).count(),
}


def count_network_resources(project_id: str) -> dict[str, int]:
    """Every network quota's usage for `project_id` (0 for rbac_policy and subnetpool)."""
    counts = dict.fromkeys(quotas.network_default_limits(), 0)
    counts.update({resource: count(project_id) for resource, count in COUNTERS.items()})
    return counts


def reserve(project_id: str, resource: str, adding: int = 1) -> None:
    """Lock the project, count `resource` and raise 409 `OverQuota` unless `adding` more fit.
    Precondition: inside the transaction that inserts them."""
    quotas.lock_project(project_id)
    quotas.check_network_quota(
        project_id=project_id, resource=resource, used=COUNTERS[resource](project_id), adding=adding
    )

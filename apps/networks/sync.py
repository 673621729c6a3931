"""Telling hosts that what their network agent must build has changed.

A host's agent builds from its whole `HostNetworksPayload` (apps/networks/hosts.py); a change
here can touch hosts other than the one a port is bound to: a rule or a member joining a
security group changes the filters of every port in the groups that name it, a router or a
floating IP lives on the gateway host. So a change sends `to_compute.sync_networks` with the
whole new state to every host it may touch: the hosts of the project's bound ports, the
gateway host, and any host the caller names (where a port was bound before). The message
leaves when the transaction commits (`enqueue_on_commit`), its payload computed inside it, so
it carries the change.

Over-sending is cheap (the agent changes only what differs: its second apply of a state
changes nothing); under-sending would leave a guest behind a stale filter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from apps.networks.choices import NETWORK_OWNER_PREFIX
from apps.networks.hosts import gateway_host, host_networks
from apps.networks.models import Port
from computecloud.messages import to_compute
from computecloud.tasking import enqueue_on_commit

P = ParamSpec("P")
R = TypeVar("R")


def sync_hosts(hosts: Iterable[str | None]) -> None:
    for host in sorted({h for h in hosts if h}):
        to_compute.sync_networks(enqueue_on_commit, host, payload=host_networks(host=host))


def sync_project(project_id: str, *, also: Iterable[str | None] = ()) -> None:
    """The hosts of the project's bound ports, the gateway host, and `also`."""
    bound = (
        Port.objects.filter(project_id=project_id)
        .exclude(binding_host_id="")
        .exclude(device_owner__startswith=NETWORK_OWNER_PREFIX)
        .values_list("binding_host_id", flat=True)
        .distinct()
    )
    sync_hosts([*bound, gateway_host(), *also])


def sync_gateway() -> None:
    sync_hosts([gateway_host()])


def syncs_gateway(function: Callable[P, R]) -> Callable[P, R]:
    """For a router or floating IP change: the gateway host, which runs every router, is told
    once the change is made."""

    @functools.wraps(function)
    def changed(*args: P.args, **kwargs: P.kwargs) -> R:
        result = function(*args, **kwargs)
        sync_gateway()
        return result

    return changed

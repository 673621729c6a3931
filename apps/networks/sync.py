"""Telling hosts that what their network agent must build has changed.

A host's agent builds from its whole `HostNetworksPayload` (apps/networks/hosts.py); a change
here can touch hosts other than the one a port is bound to: a rule or a member joining a
security group changes the filters of every port in the groups that name it, a router or a
floating IP lives on the gateway host. So a change names every host it may touch (the hosts
of the project's bound ports, the gateway host, and any host the caller names: where a port
was bound before) in `to_conductor.sync_host_networks`, sent when the transaction commits;
the conductor reads each host's state then, stamps it with the database's clock and sends it
(`to_compute.sync_networks`), and a host applies only a state newer than the last it applied.

Over-sending is cheap (the agent changes only what differs: its second apply of a state
changes nothing); under-sending would leave a guest behind a stale filter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from django.core.cache import cache
from django.db import transaction

from apps.networks.choices import NETWORK_OWNER_PREFIX
from apps.networks.hosts import gateway_host
from apps.networks.models import Port
from computecloud.messages import to_conductor
from computecloud.tasking import enqueue_on_commit

# A queued sync's mark lapses after this long, so a lost message never stops a host's syncs.
PENDING_SECONDS = 60

P = ParamSpec("P")
R = TypeVar("R")


def pending_key(host: str) -> str:
    """The cache key saying a sync of `host` is queued and has not started reading yet."""
    return f"networks:sync-pending:{host}"


def sync_hosts(hosts: Iterable[str | None]) -> None:
    """Ask the conductor to send each host its whole state, read once this transaction has
    committed (a state read inside it could miss a concurrent one's change and, arriving
    last, undo it). A host that already has a sync queued, not yet reading, gets no second
    one: that one will read this change too (the conductor clears the mark before it reads).
    A burst of changes (a hundred servers booting on one network) costs each host a few
    syncs, not one per change."""
    wanted = sorted({h for h in hosts if h})
    if wanted:
        transaction.on_commit(lambda: _request(wanted))


def _request(hosts: list[str]) -> None:
    fresh = [h for h in hosts if cache.add(pending_key(h), 1, timeout=PENDING_SECONDS)]
    if fresh:
        to_conductor.sync_host_networks(enqueue_on_commit, hosts=fresh)


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

"""A "No valid host" fault as a caller may read it: which step removed how many hosts, and why.

The conductor keeps the scheduler's structured explanation with the fault
(`InstanceFault.explanation`: `Explanation.as_dict()` of apps/scheduler/explanation.py), so
this reads data, not the message's wording, and nothing is lost to the message's 255
characters. Who sees what is the servers API's rule for a fault: steps, reasons and counts
for everyone who may see the server; host names only for those who see a fault's details
(`faults.shows_details`: admins, for a 500 fault). Faults recorded before the explanation
was kept, and every other fault, have none: no table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.servers.faults import shows_details
from apps.servers.models import InstanceFault, Server


@dataclass(frozen=True)
class Removal:
    """One step's rejections for one reason: `hosts` named only when the caller sees them."""

    step: str
    reason: str
    count: int
    hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NoValidHostTable:
    rows: list[Removal]
    # The caller sees host names: the table has their column.
    named: bool = False


def latest_fault_table(server: Server, *, is_admin: bool) -> NoValidHostTable | None:
    """The table for `server`'s latest fault (the one the API shows), read for a caller who
    may see the server; None when that fault has no explanation or it names no rejection."""
    fault = (
        InstanceFault.objects.filter(server=server)
        .order_by("-created_at", "-id")
        .only("code", "explanation")
        .first()
    )
    if fault is None or not fault.explanation:
        return None
    return _table(fault.explanation, code=fault.code, is_admin=is_admin)


def _table(explanation: dict[str, Any], *, code: int, is_admin: bool) -> NoValidHostTable | None:
    """The rows of a stored explanation, with host names if the caller may see them."""
    named = shows_details(code=code, is_admin=is_admin)
    rows = [
        Removal(
            step=rejection["step"],
            reason=rejection["reason"],
            count=rejection["count"],
            # As many names as the scheduler kept (NoValidHost.fault_explanation); the count
            # is whole.
            hosts=list(rejection["hosts"]) if named else [],
        )
        for rejection in explanation.get("rejections", [])
    ]
    return NoValidHostTable(rows=rows, named=named) if rows else None

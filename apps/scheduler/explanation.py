"""Why a request did not fit: which step removed which hosts, and a one-line summary.

Every host the pass looked at and rejected is recorded once, under the step that rejected it
(a resource class such as "RAM", a built-in check such as "Traits", or a filter's name) with
a reason phrase that reads after "1 host ..." ("has less than 4096 MB free", "is down").
`Explanation.summary()` groups them::

    There are not enough hosts available (40 considered): RAM: 37 hosts have less than
    4096 MB free; ComputeFilter: 2 hosts are down, 1 host is disabled.

That sentence is what `NoValidHost` says after "No valid host was found." (and what the
instance fault keeps); `as_dict()` adds the host names for operators (dry run, logs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_PLURAL_VERBS = {"is": "are", "has": "have", "does": "do", "was": "were"}


def pluralise(phrase: str) -> str:
    """Turn a third-person-singular phrase into the plural one ("is down" → "are down")."""
    first, _, rest = phrase.partition(" ")
    if first in _PLURAL_VERBS:
        first = _PLURAL_VERBS[first]
    elif first.endswith("s") and not first.endswith("ss"):
        first = first[:-1]
    return f"{first} {rest}" if rest else first


@dataclass
class Rejection:
    step: str
    reason: str
    hosts: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        count = len(self.hosts)
        if count == 1:
            return f"1 host {self.reason}"
        return f"{count} hosts {pluralise(self.reason)}"


@dataclass
class Explanation:
    requested: int = 1
    placed: int = 0
    considered: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    # Set when there is nothing to consider at all, or when the pass gave up (see services).
    note: str = ""

    def add(self, step: str, reason: str, host: str) -> None:
        for rejection in self.rejections:
            if rejection.step == step and rejection.reason == reason:
                rejection.hosts.append(host)
                return
        self.rejections.append(Rejection(step=step, reason=reason, hosts=[host]))

    def copy(self) -> Explanation:
        return Explanation(
            requested=self.requested,
            placed=self.placed,
            considered=self.considered,
            rejections=[Rejection(r.step, r.reason, list(r.hosts)) for r in self.rejections],
            note=self.note,
        )

    def summary(self) -> str:
        parts: list[str] = []
        if self.requested > 1 and self.placed:
            parts.append(f"Only {self.placed} of {self.requested} instances fit.")
        if self.note:
            parts.append(self.note)
        if self.considered == 0 and not self.note:
            parts.append("There are no compute hosts with resources.")
        elif self.considered:
            by_step: dict[str, list[str]] = {}
            for rejection in self.rejections:
                by_step.setdefault(rejection.step, []).append(rejection.sentence())
            details = "; ".join(f"{step}: {', '.join(s)}" for step, s in by_step.items())
            text = f"There are not enough hosts available ({self.considered} considered)"
            parts.append(f"{text}: {details}." if details else f"{text}.")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "placed": self.placed,
            "considered": self.considered,
            "summary": self.summary(),
            "rejections": [
                {"step": r.step, "reason": r.reason, "count": len(r.hosts), "hosts": r.hosts}
                for r in self.rejections
            ],
        }

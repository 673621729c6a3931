"""The scheduler's domain errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from computecloud.exceptions import ComputecloudError

if TYPE_CHECKING:
    from apps.scheduler.explanation import Explanation


MAX_NAMED_HOSTS = 20


class NoValidHost(ComputecloudError):
    """No host can take the request (or not `min_count` of its instances).

    Nova keeps this as the instance's fault (code 500) rather than answering a request with
    it. `explanation` is the structured record (per step, which hosts and why); the message
    is "No valid host was found. " followed by its summary (it may exceed the fault message's
    255 characters: `details` has all of it, with the host names).
    """

    code = 500
    msg_fmt = "No valid host was found. %(reason)s"

    def __init__(
        self, explanation: Explanation | None = None, *, reason: str | None = None
    ) -> None:
        self.explanation = explanation
        if reason is None:
            reason = explanation.summary() if explanation is not None else ""
        super().__init__(reason=reason)

    @property
    def fault_explanation(self) -> dict[str, Any] | None:
        """For the instance fault's explanation: the structured record (host names included:
        readers decide who sees them), or None when there is none. Each rejection keeps its
        full count but at most MAX_NAMED_HOSTS names, as the details do: on a large fleet every
        failed server of a batch would otherwise store thousands of names no page shows."""
        if self.explanation is None:
            return None
        record = self.explanation.as_dict()
        for rejection in record["rejections"]:
            rejection["hosts"] = rejection["hosts"][:MAX_NAMED_HOSTS]
        return record

    @property
    def details(self) -> str:
        """For the instance fault's details (admins see them): the message, then each
        rejection with the hosts it removed (20 named at most per line)."""
        if self.explanation is None:
            return self.message
        lines = [self.message]
        for rejection in self.explanation.rejections:
            named = ", ".join(rejection.hosts[:MAX_NAMED_HOSTS])
            more = len(rejection.hosts) - MAX_NAMED_HOSTS
            if more > 0:
                named += f" and {more} more"
            lines.append(f"{rejection.step} ({rejection.reason}): {named}")
        return "\n".join(lines)

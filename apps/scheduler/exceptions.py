"""The scheduler's domain errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from computecloud.exceptions import ComputecloudError

if TYPE_CHECKING:
    from apps.scheduler.explanation import Explanation


class NoValidHost(ComputecloudError):
    """No host can take the request (or not `min_count` of its instances).

    Nova keeps this as the instance's fault (code 500) rather than answering a request with
    it. `explanation` is the structured record (per step, which hosts and why); the message
    is "No valid host was found. " followed by its summary.
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

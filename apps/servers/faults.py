"""What a failure on a compute host says, and to whom (Nova's rules).

A fault's message is shown to everyone who may see the server, so it is the error's own
message only for errors whose messages are written for users (Nova: a NovaException's
formatted message); for any other error it is the error's class name, since its text may
hold host names, paths, hypervisor output or URLs (nova/compute/utils.py exception_to_dict).
The full text and traceback go in the details, which the API shows to admins only while the
code is 500 (nova/compute/utils.py _get_fault_details and the servers view's fault). An
action event keeps the same public message as its details (shown under the events:details
policy from 2.84) and the full text as its traceback (the events policy).

Compute hosts report a failure as ``{"message": "<ErrorClass>: <text>", "details":
<traceback>, "code": 500}`` (workers/compute/manager.py ``fault_from``). Messages of another
shape are the control plane's own words ("Instance has no host") and are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Virt-layer errors (workers/virt/exceptions.py) whose messages are made of the request's own
# values (the flavor, the image, the instance's state), never of the host's: shown as they
# are. The others carry a raw reason (libvirt's or qemu-img's output, a URL, a path).
USER_SAFE_ERRORS = frozenset(
    {
        "FlavorDiskSmallerThanImage",
        "ImageChecksumMismatch",
        "ImageUnacceptable",
        "InstanceExists",
        "InstanceNotFound",
        "InvalidDriverState",
        "UnsupportedHardware",
    }
)

_REPORTED = re.compile(r"(?P<kind>[A-Za-z_][A-Za-z0-9_]*): (?P<text>.*)", re.DOTALL)


@dataclass(frozen=True)
class Fault:
    """A failure as it is recorded: `message` for everyone, `details` for admins."""

    message: str
    details: str


def from_report(report: Mapping[str, Any] | None, *, default: str) -> Fault:
    """The fault to record for a host's failure `report` (`default` when there is none)."""
    if not report:
        return Fault(message=default, details="")
    raw = str(report.get("message") or "")
    details = str(report.get("details") or "") or raw
    reported = _REPORTED.fullmatch(raw)
    if reported is None:
        return Fault(message=raw or default, details=details)
    kind, text = reported["kind"], reported["text"]
    return Fault(message=text if kind in USER_SAFE_ERRORS else kind, details=details)


def shows_details(*, code: int, is_admin: bool) -> bool:
    """Whether a caller sees a fault's details (and what else names hosts, such as a "No
    valid host" explanation's host names): admins always, others only when the code is not
    500 (Nova's servers view and nova/compute/utils.py _get_fault_details)."""
    return is_admin or code != 500

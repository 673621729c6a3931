"""Reading a "No valid host" fault back into rows: which step removed which hosts, and why.

The scheduler writes the explanation twice (apps/scheduler/explanation.py, NoValidHost in
apps/scheduler/exceptions.py): the fault's *message*, which every reader of the server sees,
holds `Explanation.summary()` (counts and reasons, no host names; cut at the fault's 255
characters), and the fault's *details*, which the API shows admins only (a 500 fault), hold
one line per rejection with the host names: ``ComputeFilter (is down): host-a, host-b``.
This module parses those two texts and nothing else; it decides nothing about who sees what:
the caller passes the fault as the API's servers view shaped it for the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PREFIX = "No valid host was found."
# InstanceFault.message's length: a longer summary was cut there.
MESSAGE_LIMIT = 255

_DETAIL_LINE = re.compile(r"(?P<step>[^\s()]+) \((?P<reason>.*)\): (?P<hosts>.+)")
_MORE = re.compile(r"(?P<last>.*) and (?P<more>\d+) more")
_CONSIDERED = re.compile(r"\((?P<count>\d+) considered\): (?P<rest>.*)", re.DOTALL)
# "; " starts a new step only where a "<Step>: <n> host(s) " follows.
_STEP_SPLIT = re.compile(r"; (?=[^\s;:]+: \d+ hosts? )")
_SENTENCE = re.compile(r"(?P<count>\d+) hosts? (?P<reason>.+?)(?=, \d+ hosts? |$)", re.DOTALL)


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
    # The summary was cut short (the fault's message limit): rows may be missing.
    cut_short: bool = False
    # From the details: the host names are there.
    named: bool = False


def explain(fault: dict[str, Any] | None) -> NoValidHostTable | None:
    """The table for a server's fault as the API showed it (``details`` present only for
    those who may read them); None when the fault is not a "No valid host"."""
    if not fault or not str(fault.get("message", "")).startswith(PREFIX):
        return None
    details = fault.get("details") or ""
    if details:
        rows = from_details(details)
        if rows:
            return NoValidHostTable(rows=rows, named=True)
    return from_message(str(fault["message"]))


def from_details(details: str) -> list[Removal]:
    """The rows of NoValidHost.details: its lines after the first."""
    rows = []
    for line in details.splitlines()[1:]:
        match = _DETAIL_LINE.fullmatch(line.strip())
        if match is None:
            continue
        named = match["hosts"]
        extra = 0
        more = _MORE.fullmatch(named)
        if more is not None:
            named, extra = more["last"], int(more["more"])
        hosts = [h for h in named.split(", ") if h]
        rows.append(
            Removal(
                step=match["step"], reason=match["reason"], count=len(hosts) + extra, hosts=hosts
            )
        )
    return rows


def from_message(message: str) -> NoValidHostTable:
    """The rows of the summary in the fault's message (counts and reasons)."""
    cut_short = len(message) >= MESSAGE_LIMIT
    found = _CONSIDERED.search(message)
    if found is None:
        return NoValidHostTable(rows=[], cut_short=cut_short)
    body = found["rest"].strip()
    if not cut_short:
        body = body.removesuffix(".")
    rows: list[Removal] = []
    for part in _STEP_SPLIT.split(body):
        step, _, sentences = part.partition(": ")
        rows.extend(
            Removal(step=step, reason=said["reason"], count=int(said["count"]))
            for said in _SENTENCE.finditer(sentences)
        )
    if cut_short and rows:
        rows.pop()  # the last sentence may have been cut mid-word
    return NoValidHostTable(rows=rows, cut_short=cut_short)

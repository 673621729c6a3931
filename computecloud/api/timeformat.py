"""The timestamp shapes the APIs answer with, one function each.

Nova's and Glance's compute views format the datetime's own fields (the database hands out
UTC): ``iso`` as ``2026-12-04T22:07:23Z``, ``iso_micro`` as oslo's PERFECT_TIME_FORMAT,
``2026-12-04T22:07:23.123456`` (no zone designator). Keystone's tokens carry
``keystone_time``, converted to UTC with microseconds and a Z. The first two use isoformat
rather than strftime: a page of servers formats three per row, and this is twice as fast.
"""

from datetime import UTC, datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds")[:19] + "Z" if value else None


def iso_micro(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds")[:26] if value else None


def keystone_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

"""Booleans as OpenStack clients write them: JSON true/false, or the words the services
accept ("True", "yes", "1", ...; oslo's strutils list)."""

from typing import Any

TRUE_WORDS = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE_WORDS = frozenset({"0", "f", "false", "off", "n", "no"})


def parse_bool(value: Any) -> bool | None:
    """The boolean `value` stands for, or None when it stands for none (the caller says how
    it refuses that)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int):
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None

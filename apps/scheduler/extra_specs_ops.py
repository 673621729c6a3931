"""Matching a host value against a flavor extra spec's requirement (Nova's operator syntax).

A requirement is either a plain string (equality) or starts with an operator:

- numeric: ``= N`` (at least N), ``== N``, ``!= N``, ``>= N``, ``<= N``
- string: ``s== x``, ``s!= x``, ``s>= x``, ``s> x``, ``s<= x``, ``s< x``
- ``<in> x``: x is a substring of the value (or an element of a list value)
- ``<all-in> x y ...``: every word is in the value (a list, or a string of words)
- ``<or> a <or> b``: the value equals one of the alternatives

Pure functions; the filters that use them say which host value they compare.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
}
_STRING: dict[str, Callable[[str, str], bool]] = {
    "s==": operator.eq,
    "s!=": operator.ne,
    "s>=": operator.ge,
    "s>": operator.gt,
    "s<=": operator.le,
    "s<": operator.lt,
}


def _as_words(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set | frozenset):
        return [str(item) for item in value]
    return str(value).split()


def match(value: Any, requirement: str) -> bool:
    """Whether host `value` satisfies `requirement`; a missing value (None) never does."""
    if value is None:
        return False
    words = requirement.split()
    if not words:
        return str(value) == requirement
    op, args = words[0], words[1:]
    if op in _NUMERIC and len(args) == 1:
        try:
            return _NUMERIC[op](float(value), float(args[0]))
        except (TypeError, ValueError):
            return False
    if op in _STRING and len(args) == 1:
        return _STRING[op](str(value), args[0])
    if op == "<in>" and len(args) == 1:
        if isinstance(value, list | tuple | set | frozenset):
            return args[0] in {str(item) for item in value}
        return args[0] in str(value)
    if op == "<all-in>" and args:
        have = set(_as_words(value))
        return all(arg in have for arg in args)
    if op == "<or>":
        alternatives = [w for w in words if w != "<or>"]
        return str(value) in alternatives
    return str(value) == requirement

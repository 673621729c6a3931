"""Reading what block-storage clients send: bodies, Python-style booleans, the ``metadata``
filter (a Python repr of a dict), and which keys a microversion allows.

Cinder ignores unknown keys in a volume's body up to 3.52 and refuses them (400) from 3.53,
where its JSON schemas became strict: a user naming ``status`` or ``host`` gets that.
"""

import ast
from collections.abc import Iterable
from typing import Any

from rest_framework.request import Request

from computecloud.api.microversions import APIVersion
from computecloud.booleans import parse_bool
from computecloud.exceptions import InvalidInput

STRICT_FROM = (3, 53)


def member(request: Request, key: str) -> dict[str, Any]:
    """The object under `key` in the request's body (``{"volume": {...}}``), else a 400."""
    data = request.data
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise InvalidInput(f"Missing required element '{key}' in request body.")
    return data[key]


def check_keys(
    body: dict[str, Any], allowed: Iterable[str], version: APIVersion, *, strict: bool = False
) -> None:
    """Refuse keys outside `allowed` from microversion 3.53 (or always, when `strict`)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown and (strict or version >= STRICT_FROM):
        names = ", ".join(repr(key) for key in unknown)
        raise InvalidInput(f"Invalid input: Additional properties are not allowed ({names}).")


def boolean(value: Any, name: str, default: bool = False) -> bool:
    """A boolean as clients send it: JSON true/false or strings such as ``True``/``False``."""
    if value is None:
        return default
    # Cinder takes JSON booleans and words here, never numbers.
    is_number = isinstance(value, int) and not isinstance(value, bool)
    parsed = None if is_number else parse_bool(value)
    if parsed is None:
        raise InvalidInput(f"Invalid input received: {name} must be a boolean, not {value!r}.")
    return parsed


def query_boolean(request: Request, name: str) -> bool:
    return boolean(request.query_params.get(name), name)


def metadata_filter(text: str | None) -> dict[str, str] | None:
    """``metadata={'a': 'b'}`` (OSC's ``--property``): a literal dict of strings, never code."""
    if text is None:
        return None
    try:
        value = ast.literal_eval(text) if len(text) <= 4096 else None
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput("Invalid input received: metadata filter must be a dict of strings.")
    return value


def alias(body: dict[str, Any], name: str, legacy: str) -> Any:
    """`name`, or Tempest's and the old API's ``display_*`` spelling of it."""
    if name in body:
        return body[name]
    return body.get(legacy)

"""The API's validation messages, by field, for a page to show next to its inputs.

The dashboard's forms are validated by the API's own serializers (so a page refuses exactly
what the API refuses, in the same words); this turns their nested ``errors`` into one list of
messages per form field.
"""

from collections.abc import Mapping
from typing import Any

FieldErrors = dict[str, list[str]]


def field_errors(errors: Any, *, aliases: Mapping[str, str] | None = None) -> FieldErrors:
    """`errors` of a DRF serializer (nested under the body's wrapper key or not) as
    {form field: [message, ...]}; `aliases` renames API fields to form fields, anything not
    a field lands under ``__all__``."""
    aliases = aliases or {}
    found: FieldErrors = {}

    def walk(node: Any, field: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                name = "general" if key in ("non_field_errors", "__all__") else str(key)
                walk(value, aliases.get(name, name) if name != "general" else field)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item, field)
        else:
            found.setdefault(field, []).append(str(node))

    walk(errors, "general")
    return found

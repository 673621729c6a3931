"""The JSON parser every API uses: nesting and non-JSON constants as client errors.

The body's size is bounded before it gets here: DRF hands JSON parsers ``request.body``, which
Django refuses past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (answered as a 413 by the exception
handler). What DRF's own parser lets through is the RecursionError of a deeply nested
document, which would leave as a 500.
"""

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        data = stream.read() if stream is not None else b""
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's decoder accepts them unless told not to.
    raise ValueError(f"{name} is not valid JSON")

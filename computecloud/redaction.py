"""Signed image URLs kept out of logs.

A signed URL (apps/images/services.py) opens an image's data without a token until it
expires: its ``sig`` query parameter is a bearer credential, and access logs are read by
more people, and kept longer, than the credential lives. Every log line a control-plane
process writes passes `RedactSignatures` (LOGGING in settings); gunicorn's access log uses
`computecloud.gunicorn_logging.RedactingLogger` (gunicorn.conf.py).
"""

import logging
import re

REDACTED = "REDACTED"
# ``sig=<value>`` at the start of a query string or after a separator.
_SIGNATURE = re.compile(r"(?<![^?&;\s\"'])(sig)=[^&;\s\"']*", re.IGNORECASE)


def redact_signatures(text: str) -> str:
    """`text` with the value of every ``sig`` query parameter replaced."""
    return _SIGNATURE.sub(rf"\1={REDACTED}", text)


class RedactSignatures(logging.Filter):
    """A handler filter: the formatted message with signatures redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_signatures(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True

"""Log lines stay one line each, whatever users put in names and descriptions.

A server name with a newline, logged as it is, would let its owner write a line that looks
like ours ("... ERROR ... host compute-3 down"). The formatter escapes control characters in
the message (a traceback, appended after it, keeps its lines). Plain logging only: the
compute worker, which has no Django, uses it too.
"""

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def escape_control(text: str) -> str:
    """``\\n`` for a newline, ``\\x1b`` for an escape, ...: visible and on one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class SingleLineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_control(record.message)
        return super().formatMessage(record)


def make_single_line(logger: logging.Logger) -> None:
    """Give each of `logger`'s handlers the single-line formatter, keeping its format (for
    handlers set up by others, such as Celery's)."""
    for handler in logger.handlers:
        current = handler.formatter
        fmt = current._fmt if current is not None else None
        datefmt = current.datefmt if current is not None else None
        handler.setFormatter(SingleLineFormatter(fmt, datefmt))

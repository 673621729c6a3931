"""Request ids: one ``req-<uuid>`` follows a request from the API through the conductor and the
compute hosts, into every log line each process writes for it.

The API's middleware (`computecloud.middleware`) makes the id and sets it in `request_id_var`
for the request. Every message a process publishes while an id is set carries it in a message
header (`HEADER`), besides the ``request_id`` argument most messages have; a worker sets it
again while the task runs (`bind_task` and `unbind_task`, on Celery's task_prerun and
task_postrun signals, in both Celery apps), from the argument first and the header otherwise.
`RequestIdLogFilter` writes it into every record, so that ``grep req-…`` across the API's,
the conductor's and the compute hosts' logs tells one request's story.

Plain Python, no Django: compute workers use it too.
"""

import contextvars
import logging
import re
import uuid
from typing import Any

# "-" when no request is being served (start-up, heartbeats, periodic jobs).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# The message header that carries the publisher's request id (Celery hands custom headers to
# the task as attributes of ``task.request``).
HEADER = "computecloud_request_id"

# What a request id looks like; anything else in a message (a forged header) is not logged.
_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The tokens of running tasks (task id → token), to restore the context after each.
_tokens: dict[str, contextvars.Token[str]] = {}


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def current() -> str | None:
    """The request id being served in this context, or None."""
    value = request_id_var.get()
    return value if value != "-" else None


def headers() -> dict[str, str]:
    """The message headers that carry the current request id (none without one)."""
    value = current()
    return {HEADER: value} if value else {}


def _from_task(task: Any, kwargs: dict[str, Any] | None) -> str | None:
    kwargs = kwargs or {}
    payload = kwargs.get("payload")  # a build's arguments travel in one payload
    candidates = [
        kwargs.get("request_id"),
        payload.get("request_id") if isinstance(payload, dict) else None,
        getattr(task.request, HEADER, None),
    ]
    for value in candidates:
        if isinstance(value, str) and _REQUEST_ID.match(value):
            return value
    return None


def bind_task(task_id: str | None = None, task: Any = None, kwargs: Any = None, **_: Any) -> None:
    """Celery task_prerun: the task's request id (argument, else header) for its log lines."""
    if task is None or task_id is None:
        return
    value = _from_task(task, kwargs if isinstance(kwargs, dict) else None)
    if value is not None:
        _tokens[task_id] = request_id_var.set(value)


def unbind_task(task_id: str | None = None, **_: Any) -> None:
    """Celery task_postrun: back to the context the task ran in."""
    token = _tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        request_id_var.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every record that does not carry one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def show_in(logger: logging.Logger) -> None:
    """Make `logger`'s handlers (set up by others, such as Celery's) write each record's
    request id before its message, as the control plane's LOGGING format does."""
    for handler in logger.handlers:
        if not any(isinstance(f, RequestIdLogFilter) for f in handler.filters):
            handler.addFilter(RequestIdLogFilter())
        current = handler.formatter
        fmt = getattr(current, "_fmt", None) or "%(message)s"
        if "%(request_id)s" not in fmt:
            fmt = fmt.replace("%(message)s", "[%(request_id)s] %(message)s")
            formatter_class = type(current) if current is not None else logging.Formatter
            handler.setFormatter(formatter_class(fmt, getattr(current, "datefmt", None)))

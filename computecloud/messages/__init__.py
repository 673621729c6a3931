"""The messages between processes, one module per direction, and the only place task names
are written.

- `to_conductor`: the API (and beat) to the conductor: work to orchestrate.
- `to_compute`: the conductor (and, for console output, the API) to one compute host.
- `from_compute`: a compute host to the conductor (outcomes, host life) and to placement
  (inventory, on the scheduler queue).

Each message is a task name constant, a TypedDict of its arguments (the module's `MESSAGES`
maps one to the other) and one send function that takes them typed. Task definitions name
themselves with the constant (``@shared_task(name=to_compute.BUILD_SERVER)``);
tests/test_messages.py fails on a task-name literal anywhere else, on a send_task outside
the two publishers below, and on a task whose parameters are not its message's.

How a message leaves is the send function's first argument, a `Send`:

- the control plane always passes `computecloud.tasking.enqueue_on_commit`: the message goes
  out when the surrounding transaction commits (at once outside one), so it never runs
  before the rows it acts on exist, nor after a rollback;
- a compute worker has no database and so no transaction: `ComputeManager.publish` sends at
  once.

One message is a call, and the only place a process waits for another:
`to_compute.get_console_output` blocks the API request for the host's answer, at most
`to_compute.CONSOLE_OUTPUT_TIMEOUT` seconds (`computecloud.tasking.call`).

Plain Python, no Django: compute workers import these modules (import-linter contract
"compute workers never import the control plane").
"""

from collections.abc import Mapping
from typing import Any, Protocol


class Send(Protocol):
    """Publishes task `task` with JSON `kwargs`; `queue` None routes it by name
    (`computecloud.queues.TASK_ROUTES`)."""

    def __call__(
        self, task: str, /, *, kwargs: Mapping[str, Any], queue: str | None = None
    ) -> None: ...


class Call(Protocol):
    """Publishes task `task` to `queue` now and returns its result, waiting at most `timeout`
    seconds (raises on timeout)."""

    def __call__(
        self, task: str, /, *, kwargs: Mapping[str, Any], queue: str, timeout: float
    ) -> Any: ...

"""The compute hosts' message API: the only module that knows compute task names and queues.

The control plane imports this, never the worker's manager or tasks. Every function sends one
task by name to ``compute.<host>``; callers invoke them after their transaction commits
(`computecloud.tasking.enqueue_on_commit` or from a conductor task that has committed).
"""

from typing import Any

from celery import Celery

from computecloud.queues import compute_queue, describe_task

# How long the API waits for a host to answer a call (console output).
CALL_TIMEOUT = 30.0


def _send(app: Celery, name: str, host: str, **kwargs: Any) -> None:
    app.send_task(name, kwargs=kwargs, queue=compute_queue(host), kwargsrepr=describe_task(kwargs))


def build_server(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    _send(app, "compute.build_server", host, payload=payload)


def server_action(app: Celery, host: str, *, operation: str, payload: dict[str, Any]) -> None:
    """One of the simple operations (compute.reboot_server, compute.stop_server, ...)."""
    _send(app, operation, host, payload=payload)


def delete_server(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    _send(app, "compute.delete_server", host, payload=payload)


def snapshot_server(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    _send(app, "compute.snapshot_server", host, payload=payload)


def resize_server(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    """On the source host: power off and hand the disk over (upload to the transfer URL)."""
    _send(app, "compute.resize_server", host, payload=payload)


def finish_resize(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    """On the destination host: fetch the disk and start the instance with the new flavor."""
    _send(app, "compute.finish_resize", host, payload=payload)


def confirm_resize(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    """On the source host: remove what is left of the instance there."""
    _send(app, "compute.confirm_resize", host, payload=payload)


def revert_resize(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    """On the destination host: remove the new copy (the conductor then restarts the source)."""
    _send(app, "compute.revert_resize", host, payload=payload)


def finish_revert_resize(app: Celery, host: str, *, payload: dict[str, Any]) -> None:
    """On the source host: start the instance again with its old flavor."""
    _send(app, "compute.finish_revert_resize", host, payload=payload)


def destroy_orphan(app: Celery, host: str, *, server_uuid: str) -> None:
    """Remove a domain and files the database no longer knows (deleted while the host was down)."""
    _send(app, "compute.destroy_orphan", host, server_uuid=server_uuid)


def get_console_output(app: Celery, host: str, *, server_uuid: str, length: int | None) -> str:
    """A call: waits up to CALL_TIMEOUT for the host's answer (raises on timeout)."""
    kwargs = {"server_uuid": server_uuid, "length": length}
    result = app.send_task(
        "compute.get_console_output",
        kwargs=kwargs,
        queue=compute_queue(host),
        kwargsrepr=describe_task(kwargs),
    )
    output: str = result.get(timeout=CALL_TIMEOUT)
    return output

"""Celery topology: queue names, routing and broker settings, in one place.

Plain constants with no Django import, so that both the control-plane Celery app
(`computecloud.celery`) and the compute workers' Django-free app (`workers.compute.app`)
share them. Code that enqueues names a task (a constant of `computecloud.messages`); this
module decides where it goes.

Queues:
- ``conductor``: orchestration and every instance-state write on behalf of hosts.
- ``scheduler``: placement bookkeeping (inventory reports) and scheduler periodic jobs.
- ``compute.<host>``: one per hypervisor host, consumed only by that host's worker.
"""

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from computecloud.messages import to_conductor

CONDUCTOR_QUEUE = "conductor"
SCHEDULER_QUEUE = "scheduler"
COMPUTE_QUEUE_PREFIX = "compute."


def compute_queue(host: str) -> str:
    """The queue that host `host`'s compute worker consumes."""
    return f"{COMPUTE_QUEUE_PREFIX}{host}"


# What a message shows of its arguments (worker events, `celery inspect`, monitoring): the
# identifiers an operator looks for. Never user data, keys or signed URLs, and cheap to build
# (Celery's default is a repr of every argument, large for a build).
_DESCRIBED = ("server_uuid", "server_uuids", "migration_uuid", "image_id", "host", "request_id")


def describe_task(kwargs: Mapping[str, Any]) -> str:
    """A short repr of a task's arguments, for `send_task(..., kwargsrepr=...)`."""
    shown = {key: kwargs[key] for key in _DESCRIBED if key in kwargs}
    payload = kwargs.get("payload")
    if isinstance(payload, dict):
        instance = payload.get("instance") or {}
        shown.setdefault("server_uuid", payload.get("server_uuid") or instance.get("uuid"))
        if "request_id" in payload:
            shown.setdefault("request_id", payload["request_id"])
    return repr(shown)


# Task name prefix → queue. Compute tasks carry their queue explicitly (it depends on the
# host), so they are not routed here.
TASK_ROUTES: dict[str, dict[str, str]] = {
    "conductor.*": {"queue": CONDUCTOR_QUEUE},
    "scheduler.*": {"queue": SCHEDULER_QUEUE},
}

# Settings common to both apps. Late acknowledgement plus reject-on-worker-lost means a task
# whose worker dies is redelivered rather than lost; tasks are idempotent so that is safe.
COMMON_CONFIG: dict[str, Any] = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "task_ignore_result": True,
    "task_routes": TASK_ROUTES,
    "task_default_queue": CONDUCTOR_QUEUE,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
    # Redis redelivers a task whose worker died unacknowledged after this many seconds
    # (BROKER_VISIBILITY_TIMEOUT, an hour by default): longer than any task runs, or a task
    # still running is delivered twice. Tests that kill a worker set it to seconds.
    "broker_transport_options": {
        "visibility_timeout": int(os.environ.get("BROKER_VISIBILITY_TIMEOUT") or 3600)
    },
    "worker_hijack_root_logger": False,
    "enable_utc": True,
}

# Periodic control-plane jobs (Celery beat). Each names a conductor task that calls one
# service; see docs/operations.md. (Service liveness needs no job: "up" is derived from the
# last heartbeat whenever it is read.)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "build-timeout": {
        "task": to_conductor.EXPIRE_STUCK_BUILDS,
        "schedule": timedelta(seconds=60),
    },
    "auto-confirm-resizes": {
        "task": to_conductor.CONFIRM_EXPIRED_RESIZES,
        "schedule": timedelta(seconds=60),
    },
    "stale-image-uploads": {
        "task": to_conductor.RESET_STALE_IMAGE_UPLOADS,
        "schedule": timedelta(minutes=5),
    },
    "purge-identity-tokens": {
        "task": to_conductor.PURGE_IDENTITY_TOKENS,
        "schedule": timedelta(hours=1),
    },
    "purge-console-tokens": {
        "task": to_conductor.PURGE_CONSOLE_TOKENS,
        "schedule": timedelta(minutes=10),
    },
}

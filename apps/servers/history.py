"""A server's history as users read it (os-instance-actions) and its faults: every operation
records an action, each step of it an event (started, finished, with its host and result),
and a failure a fault. The API's services and the conductor both write it here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.identity.context import RequestContext
from apps.servers.models import InstanceAction, InstanceActionEvent, InstanceFault, Server


def record_action(
    *, server: Server, action: str, context: RequestContext, request_id: str
) -> InstanceAction:
    return InstanceAction.objects.create(
        server=server,
        action=action,
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )


def find_action(
    *, request_id: str, server: Server | None = None, server_uuid: str = ""
) -> InstanceAction | None:
    """The newest action `request_id` started on the server (given as a record or a uuid)."""
    lookup = {"server": server} if server is not None else {"server__uuid": server_uuid}
    return (
        InstanceAction.objects.filter(request_id=request_id, **lookup)
        .order_by("-start_time")
        .first()
    )


def start_event(*, server: Server, request_id: str, event: str, host: str | None = None) -> None:
    action = find_action(server=server, request_id=request_id)
    if action is not None:
        InstanceActionEvent.objects.create(action=action, event=event, host=host)


def finish_event(
    *,
    request_id: str,
    event: str,
    ok: bool,
    server: Server | None = None,
    action: InstanceAction | None = None,
    started_at: datetime | None = None,
    host: str | None = None,
    details: str | None = None,
    traceback: str | None = None,
    finish_action: bool = True,
) -> None:
    """Close `event` of the action `request_id` on `server` (or of `action`, already looked up).

    With `started_at` the event was never written as started (a step too short to be worth a
    row of its own, or one a host timed itself): it is written whole, in one statement.
    Otherwise the started row is closed, or created if it was never started.
    """
    if action is None and server is not None:
        action = find_action(server=server, request_id=request_id)
    if action is None:
        return
    now = timezone.now()
    result = "Success" if ok else "Error"
    updated = 0
    if started_at is None:
        updated = InstanceActionEvent.objects.filter(
            action=action, event=event, finish_time__isnull=True
        ).update(finish_time=now, result=result, details=details, traceback=traceback, host=host)
    if not updated:
        InstanceActionEvent.objects.create(
            action=action,
            event=event,
            host=host,
            result=result,
            start_time=started_at or now,
            finish_time=now,
            details=details,
            traceback=traceback,
        )
    if finish_action:
        fields: dict[str, Any] = {"finish_time": now}
        if not ok:
            fields["message"] = "Error"
        InstanceAction.objects.filter(pk=action.pk).update(**fields)


def add_fault(
    *,
    server: Server,
    message: str,
    code: int = 500,
    details: str = "",
    host: str | None = None,
    explanation: dict[str, Any] | None = None,
) -> InstanceFault:
    """Record a fault. `explanation`: a "No valid host" failure's structured explanation
    (`NoValidHost.fault_explanation`: every count, at most 20 host names a rejection), kept
    beside the message it summarises."""
    return InstanceFault.objects.create(
        server=server,
        code=code,
        message=message[:255],
        details=details,
        host=host,
        explanation=explanation,
    )

"""One server's page: a live header and four tabs (overview, console, log, actions).

The server is read with `get_server` under the caller's context, as the API's show reads it:
another project's id is the same 404 as an unknown one. What each tab shows is what the API
shows the caller: the overview is the API's own server body (`server_detail` at the latest
microversion: the host and a 500 fault's details for admins only), with a "No valid host"
fault's explanation as a table under the same rule (apps/servers/no_valid_host.py: host
names only for those who see the details); the history is the API's instance-action view
under the same events policies, the console and the log come from the services the API's
remote-consoles and os-getConsoleOutput call, under their policies.

Live parts poll instead of streaming. The header asks `server-status` every 2 s with the
version it shows (the server's `updated_at`, which every state change through
`apps.servers.states.transition` sets) and gets 204, which htmx does not swap, until the
server changes. Server-sent events were the alternative: the web workers are gunicorn
gthread workers (Procfile), where each open stream would hold one of a worker's few threads
for as long as a page stays open, so a handful of open pages would starve every other
request; a poll that answers 204 from one indexed read holds a thread for milliseconds. The
log tab polls `server-log` every 3 s while it is open; that answer is a call to the server's
host, which a silent host holds for up to `to_compute.CONSOLE_OUTPUT_TIMEOUT`, so the follower
drops its next poll while one is in flight (hx-sync): one thread per open log tab at most.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from apps.consoles.api.views import REMOTE_CONSOLES_POLICY
from apps.consoles.services import get_remote_console
from apps.dashboard.access import can, page, show
from apps.dashboard.views.servers import server_actions
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.images.exceptions import ImageNotFound
from apps.images.services import find_visible_image
from apps.networks import services as networks
from apps.servers import services
from apps.servers.api import serializers as api_view
from apps.servers.api.views import prefetched
from apps.servers.choices import VmState
from apps.servers.exceptions import ServerNotFound
from apps.servers.models import InstanceAction, Server
from apps.servers.no_valid_host import latest_fault_table
from apps.servers.states import api_status
from computecloud.api.microversions import MAX_VERSION
from computecloud.exceptions import Conflict, InvalidInput

SHOW_POLICY = "os_compute_api:servers:show"
CONSOLE_OUTPUT_POLICY = "os_compute_api:os-console-output"
ACTIONS_POLICY = "os_compute_api:os-instance-actions:list"
EVENTS_POLICY = "os_compute_api:os-instance-actions:events"
EVENT_DETAILS_POLICY = "os_compute_api:os-instance-actions:events:details"

# tab → the policy that must allow it (None: the page's own, servers:show).
TABS: dict[str, str | None] = {
    "overview": None,
    "console": REMOTE_CONSOLES_POLICY,
    "log": CONSOLE_OUTPUT_POLICY,
    "actions": ACTIONS_POLICY,
}
TAB_LABELS = {"overview": "Overview", "console": "Console", "log": "Log", "actions": "Actions"}

# The log tab's line counts (the API's `length`); the default is the first.
LOG_LINES = (100, 50, 500, 1000)
STATUS_POLL_SECONDS = 2
IP_TYPE = "OS-EXT-IPS:type"  # fixed or floating
LOG_POLL_SECONDS = 3


# --- the page ------------------------------------------------------------------------------------
@page
def server_detail(request: HttpRequest, context: RequestContext, server_id: UUID) -> HttpResponse:
    authorize(context, SHOW_POLICY)
    server = services.get_server(context, str(server_id))
    target = {"project_id": server.project_id}
    tab = request.GET.get("tab", "overview")
    if tab not in TABS:
        raise InvalidInput(message=f"There is no tab {tab[:40]!r}.")
    policy = TABS[tab]
    if policy is not None:
        authorize(context, policy, target)
    data: dict[str, Any] = {
        "title": server.name,
        "server": server,
        "head": header(server),
        "tabs": [
            {"name": name, "label": TAB_LABELS[name], "active": name == tab}
            for name, rule in TABS.items()
            if rule is None or can(context, rule, target)
        ],
        "tab": tab,
        **buttons(context, server, back=request.get_full_path()),
    }
    data.update(TAB_BUILDERS[tab](request, context, server))
    return show(request, context, "dashboard/server/page.html", data)


def buttons(context: RequestContext, server: Server, *, back: str) -> dict[str, Any]:
    """The action buttons (templates/dashboard/servers/_actions.html): those the policy and
    the server's state allow, posting to the servers list's action view, back to `back`."""
    return {
        "actions": server_actions(context, server),
        "action_url": reverse("dashboard:server-action", args=[server.uuid]),
        "next": back,
        "server_name": server.name,
    }


def version_of(server: Server) -> str:
    """What the header shows, as one token: the server's last state change."""
    stamp = server.updated_at
    return f"{int(stamp.timestamp())}{stamp.microsecond:06d}"


def header(server: Server, *, deleted: bool = False) -> dict[str, Any]:
    """Name, status, task state and progress, and where to ask for the next change."""
    status = "DELETED" if deleted else api_status(server.vm_state, server.task_state)
    moving = status in api_view.PROGRESS_STATUSES and status != "ACTIVE"
    return {
        "name": server.name,
        "status": status,
        "task_state": None if deleted else server.task_state,
        "progress": server.progress if moving else None,
        "version": version_of(server),
        "poll_url": None
        if deleted
        else reverse("dashboard:server-status", args=[server.uuid]) + f"?v={version_of(server)}",
        "poll_every": f"every {STATUS_POLL_SECONDS}s",
    }


# --- the tabs ------------------------------------------------------------------------------------
def overview_tab(request: HttpRequest, context: RequestContext, server: Server) -> dict[str, Any]:
    """The API's server body for the caller, laid out for reading."""
    shows_user_data = api_view.shows_user_data(MAX_VERSION, context)
    row = prefetched(Server.objects.filter(pk=server.pk), user_data=shows_user_data).first()
    if row is None:  # deleted since it was read
        raise ServerNotFound(uuid=server.uuid)
    uuid = str(row.uuid)
    body = api_view.server_detail(
        row,
        MAX_VERSION,
        is_admin=context.is_admin,
        addresses=networks.instance_addresses([uuid]).get(uuid),
        security_groups=networks.instance_security_groups([uuid]).get(uuid),
    )
    fault = body.get("fault")
    if fault is not None:
        fault = {**fault, "created": parse_datetime(fault["created"])}
    return {
        "detail": {
            "id": body["id"],
            "description": body.get("description"),
            "flavor": body["flavor"],
            "image": image_label(context, row.image_ref),
            "key_name": body["key_name"],
            "addresses": [
                {
                    "network": name,
                    "items": [
                        {"addr": a["addr"], "version": a["version"], "type": a.get(IP_TYPE, "")}
                        for a in items
                    ],
                }
                for name, items in body["addresses"].items()
            ],
            "security_groups": [g["name"] for g in body.get("security_groups", [])],
            "volumes": body["os-extended-volumes:volumes_attached"],
            "availability_zone": body["OS-EXT-AZ:availability_zone"],
            # Present in the body for admins only (the API's extended attributes).
            "host": body.get("OS-EXT-SRV-ATTR:host"),
            "node": body.get("OS-EXT-SRV-ATTR:hypervisor_hostname"),
            "created": server.created_at,
            "updated": server.updated_at,
            "launched": server.launched_at,
            "metadata": sorted(body["metadata"].items()),
            "tags": body.get("tags", []),
            "locked": body.get("locked"),
            "locked_reason": body.get("locked_reason"),
            "fault": fault,
        },
        # Under the fault the body shows (an ERROR server's), as the caller may read it.
        "no_valid_host": None
        if fault is None
        else latest_fault_table(server, is_admin=context.is_admin),
    }


def image_label(context: RequestContext, image_ref: str) -> dict[str, str]:
    if not image_ref:
        return {"name": "", "id": "", "note": "booted from a volume"}
    try:
        image = find_visible_image(context=context, image_id=image_ref)
    except ImageNotFound:
        return {"name": "", "id": image_ref, "note": "no longer visible to this project"}
    return {"name": image.name or "", "id": image_ref, "note": ""}


def console_tab(request: HttpRequest, context: RequestContext, server: Server) -> dict[str, Any]:
    """A noVNC URL from the service the API's remote-consoles POST calls (a token made for
    this page), or, when the server's state gives no console, a plain sentence."""
    try:
        url = get_remote_console(
            context=context, server=server, protocol="vnc", console_type="novnc"
        )
    except Conflict:
        status = api_status(server.vm_state, server.task_state)
        task = f" ({server.task_state})" if server.task_state else ""
        return {"console_url": None, "console_unavailable": f"{status}{task}"}
    return {"console_url": url, "console_unavailable": None}


def log_tab(request: HttpRequest, context: RequestContext, server: Server) -> dict[str, Any]:
    """The follower: the page loads the output from `server-log` at once and every 3 s."""
    lines = log_lines(request)
    base = reverse("dashboard:server", args=[server.uuid])
    return {
        "log_url": reverse("dashboard:server-log", args=[server.uuid]) + f"?lines={lines}",
        "log_every": f"load, every {LOG_POLL_SECONDS}s",
        "log_lines": lines,
        "log_choices": [
            {"lines": n, "url": f"{base}?tab=log&lines={n}", "active": n == lines}
            for n in sorted(LOG_LINES)
        ],
    }


def actions_tab(request: HttpRequest, context: RequestContext, server: Server) -> dict[str, Any]:
    """os-instance-actions as the API shows it to the caller, newest first, events included:
    tracebacks and hosts under the events policy, details under events:details (admins)."""
    target = {"project_id": server.project_id}
    full = can(context, EVENTS_POLICY, target)
    details = can(context, EVENT_DETAILS_POLICY, target)
    history = []
    for action in (
        InstanceAction.objects.filter(server=server)
        .select_related("server")
        .prefetch_related("events")
        .order_by("-start_time", "-id")
    ):
        shown = api_view.action_view(
            action, MAX_VERSION, events=True, full_events=full, event_details=details
        )
        # The times as datetimes, for the template to format (the view's are ISO text).
        shown["started"] = action.start_time
        for event_view, event in zip(shown["events"], action.events.all(), strict=True):
            event_view["started"], event_view["finished"] = event.start_time, event.finish_time
        shown["events"].reverse()  # newest first, as the actions
        shown["failed"] = any(e["result"] == "Error" for e in shown["events"])
        history.append(shown)
    fault = None
    if server.vm_state == VmState.ERROR:
        latest = server.faults.order_by("-created_at", "-id").first()
        if latest is not None:
            fault = {"message": latest.message, "created": latest.created_at}
    return {"history": history, "show_event_hosts": full, "fault": fault}


TAB_BUILDERS = {
    "overview": overview_tab,
    "console": console_tab,
    "log": log_tab,
    "actions": actions_tab,
}


def log_lines(request: HttpRequest) -> int:
    raw = request.GET.get("lines", "")
    if not raw:
        return LOG_LINES[0]
    if not raw.isdigit() or int(raw) not in LOG_LINES:
        choices = ", ".join(str(n) for n in sorted(LOG_LINES))
        raise InvalidInput(message=f"lines must be one of {choices}.")
    return int(raw)


# --- the live fragments --------------------------------------------------------------------------
@page
def server_status(request: HttpRequest, context: RequestContext, server_id: UUID) -> HttpResponse:
    """The header's fragment: 204 while the server is as the caller's version; else the new
    header. A server deleted meanwhile answers its last header once, with htmx's 286 (stop
    polling); for anyone outside its project it is the same 404 as an unknown id."""
    authorize(context, SHOW_POLICY)
    try:
        server = services.get_server(context, str(server_id))
    except ServerNotFound:
        gone = deleted_server(context, str(server_id))
        if gone is None:
            raise
        return show(
            request,
            context,
            "dashboard/server/_status.html",
            {"head": header(gone, deleted=True), "with_actions": True, "actions": []},
            status=286,
        )
    if request.GET.get("v") == version_of(server):
        return HttpResponse(status=204)
    # The buttons change with the state: they come along, swapped out of band.
    data = {"head": header(server), "with_actions": True}
    data.update(buttons(context, server, back=page_path(request, server)))
    return show(request, context, "dashboard/server/_status.html", data)


def page_path(request: HttpRequest, server: Server) -> str:
    """The page the fragment's buttons return to: the page the browser shows (htmx sends
    it), when it is this server's page; else the page's first tab."""
    shown = urlsplit(request.headers.get("HX-Current-URL", ""))
    path = reverse("dashboard:server", args=[server.uuid])
    if shown.path == path:
        return f"{path}?{shown.query}" if shown.query else path
    return path


def deleted_server(context: RequestContext, server_id: str) -> Server | None:
    """A deleted server the caller could see before (the API's instance-actions rule)."""
    query = Server.with_deleted.filter(uuid=server_id, deleted=True)
    if not context.is_admin:
        query = query.filter(project_id=context.project_id)
    return query.first()


@page
def server_log(request: HttpRequest, context: RequestContext, server_id: UUID) -> HttpResponse:
    """The log tab's fragment: the last lines of the console output, or why there are none
    now. A host that does not answer (the service's 409) is a sentence, and the poll goes on."""
    authorize(context, SHOW_POLICY)
    server = services.get_server(context, str(server_id))
    authorize(context, CONSOLE_OUTPUT_POLICY, {"project_id": server.project_id})
    lines = log_lines(request)
    data: dict[str, Any] = {"output": None, "waiting": None, "lines": lines}
    try:
        output = services.get_console_output(context=context, server=server, length=lines)
        data["output"] = readable(output)
    except Conflict:
        data["waiting"] = not_yet_reason(server)
    return show(request, context, "dashboard/server/_log.html", data)


# A terminal's control sequences (a shell asking where the cursor is, colours): meaningful to
# a terminal, noise on a page.
_TERMINAL_CONTROL = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])|[\x00-\x08\x0b-\x1f\x7f]")


def readable(output: str) -> str:
    """The console output as a page shows it: without terminal control sequences."""
    return _TERMINAL_CONTROL.sub("", output.replace("\r\n", "\n"))


def not_yet_reason(server: Server) -> str:
    """Words for the service's refusal: a server that has not started on a host has no log
    yet; otherwise its host did not answer (the service keeps the host's name to itself)."""
    if not server.host or server.vm_state in (VmState.BUILDING, VmState.ERROR):
        status = api_status(server.vm_state, server.task_state)
        return f"There is no console output while the server is {status}; retrying."
    return "The host did not answer; retrying."

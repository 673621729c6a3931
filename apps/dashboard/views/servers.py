"""The servers list, its live rows, and the actions on a server (start, stop, reboot, ...).

The list is the API's list: `services.visible_servers` for the caller's context, each row's
status `states.api_status` of its vm_state and task_state. One page of up to `PAGE_SIZE`
servers costs a fixed number of statements whatever it holds (the rows as named tuples of
the shown columns, the page's image names and addresses in one statement each).

Live without reload: the list's container polls `server_rows` every 2 s with htmx
(``hx-trigger="every 2s"``), sending the version it shows. The version is one aggregate
statement over the visible servers (how many, and their latest ``updated_at``: every state,
task state and progress change goes through `states.transition`, which sets ``updated_at``;
lock and unlock set it too). Unchanged, the answer is an empty 204, which htmx does not
swap; changed, it is the rows again with the new version. Not server-sent events: the web
process is gunicorn gthread (Procfile), where a stream held open per browser tab would hold
a worker thread each; a 2-second poll costs one short request instead.

Actions are offered by `server_actions`, the one place that answers "which buttons does this
server get?": an action is shown when the policy allows it (the API's policy action) and the
server's state allows it (the action's allow-list in `apps.servers.actions`/`states`). The
server page includes templates/dashboard/servers/_actions.html with them; a list row fetches
the same partial as a menu when it is opened (`server_action_menu`), so that a page of 1,000
rows does not carry 7,000 forms.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_POST

from apps.dashboard.access import can, page, show
from apps.identity.context import RequestContext
from apps.identity.policy import authorize
from apps.images.models import Image
from apps.networks import services as networks
from apps.servers import services, states
from apps.servers.actions import SIMPLE_ACTIONS
from apps.servers.models import Server
from computecloud.exceptions import Conflict, InvalidInput

PAGE_SIZE = 1000

# The columns a row shows (and `server_actions` reads).
ROW_COLUMNS = (
    "uuid",
    "name",
    "project_id",
    "vm_state",
    "task_state",
    "progress",
    "flavor",
    "image_ref",
    "host",
    "locked",
    "locked_by",
    "created_at",
)


# --- which actions a server offers ---------------------------------------------------------------
@dataclass(frozen=True)
class ServerAction:
    """A button: `name` is what the form posts, `policy` the API's policy action."""

    name: str
    label: str
    policy: str
    confirm: str = ""  # asked before a destructive action ("" : none)
    style: str = "outline-secondary"
    simple: str | None = None  # the SIMPLE_ACTIONS entry it runs, if it is one


ACTIONS: dict[str, ServerAction] = {
    a.name: a
    for a in (
        ServerAction("start", "Start", SIMPLE_ACTIONS["start"].policy, simple="start"),
        ServerAction(
            "stop",
            "Stop",
            SIMPLE_ACTIONS["stop"].policy,
            confirm="Stop server {name}?",
            simple="stop",
        ),
        ServerAction("reboot", "Reboot", SIMPLE_ACTIONS["reboot"].policy, simple="reboot"),
        ServerAction(
            "reboot_hard",
            "Hard reboot",
            SIMPLE_ACTIONS["reboot_hard"].policy,
            confirm="Hard reboot server {name}? The guest is reset without a clean shutdown.",
            style="outline-warning",
            simple="reboot_hard",
        ),
        ServerAction("pause", "Pause", SIMPLE_ACTIONS["pause"].policy, simple="pause"),
        ServerAction("unpause", "Unpause", SIMPLE_ACTIONS["unpause"].policy, simple="unpause"),
        ServerAction("suspend", "Suspend", SIMPLE_ACTIONS["suspend"].policy, simple="suspend"),
        ServerAction("resume", "Resume", SIMPLE_ACTIONS["resume"].policy, simple="resume"),
        ServerAction("lock", "Lock", "os_compute_api:os-lock-server:lock"),
        ServerAction("unlock", "Unlock", "os_compute_api:os-lock-server:unlock"),
        ServerAction(
            "delete",
            "Delete",
            "os_compute_api:servers:delete",
            confirm="Delete server {name}? This cannot be undone.",
            style="outline-danger",
        ),
    )
}
UNLOCK_OVERRIDE = "os_compute_api:os-lock-server:unlock:unlock_override"


def allowed_actions(context: RequestContext) -> frozenset[str]:
    """The action names the policy lets `context` ask for (the API checks them against the
    caller's own project, as here). A list computes this once for all its rows."""
    names = {name for name, action in ACTIONS.items() if can(context, action.policy)}
    if can(context, UNLOCK_OVERRIDE):
        names.add("unlock_override")
    return frozenset(names)


def _state_allows(action: ServerAction, server: Any, context: RequestContext) -> bool:
    """Whether the service would take `action` on `server` as it is now."""
    if action.name == "lock":
        return not server.locked
    if action.name == "unlock":
        return bool(server.locked)
    if server.locked and not context.is_admin:
        return False  # services.check_not_locked refuses the owner's other actions
    if action.name == "delete":
        return True  # from any state (a delete under way may be asked again)
    assert action.simple is not None
    vm_states, task_states = SIMPLE_ACTIONS[action.simple].allowed
    return server.vm_state in vm_states and server.task_state in task_states


def server_actions(
    context: RequestContext, server: Any, *, allowed: frozenset[str] | None = None
) -> list[dict[str, str]]:
    """The buttons `server` gets for `context`: the actions the policy allows AND its state
    allows, each ``{name, label, confirm, style}`` for templates/dashboard/servers/_actions.html
    (``confirm``: the question asked before submitting, "" for none).

    `server` is a Server or a row with vm_state, task_state, locked, locked_by and name.
    `allowed` is `allowed_actions(context)`, passed by lists to compute it once.
    """
    allowed = allowed_actions(context) if allowed is None else allowed
    buttons = []
    for action in ACTIONS.values():
        if action.name not in allowed or not _state_allows(action, server, context):
            continue
        if (
            action.name == "unlock"
            and server.locked_by == "admin"
            and not context.is_admin
            and "unlock_override" not in allowed
        ):
            continue
        buttons.append(
            {
                "name": action.name,
                "label": action.label,
                "confirm": action.confirm.format(name=server.name),
                "style": action.style,
            }
        )
    return buttons


# --- the list ------------------------------------------------------------------------------------
def list_version(context: RequestContext) -> str:
    """What the list shows, in one word: how many servers and when the last one changed."""
    found = services.visible_servers(context).aggregate(n=Count("id"), last=Max("updated_at"))
    last = found["last"].timestamp() if found["last"] else 0
    return f"{found['n']}-{last:.6f}"


def _page_number(request: HttpRequest) -> int:
    text = request.GET.get("page", "1")
    if not text.isdigit() or not 1 <= int(text) <= 10**6:
        raise InvalidInput("page must be a positive number.")
    return int(text)


def _rows(context: RequestContext, page_number: int, back: str) -> dict[str, Any]:
    """The page's rows as the template shows them, and whether pages follow."""
    start = (page_number - 1) * PAGE_SIZE
    found = list(
        services.visible_servers(context)
        .order_by("-created_at", "-id")
        .values_list(*ROW_COLUMNS, named=True)[start : start + PAGE_SIZE + 1]
    )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    uuids = [str(row.uuid) for row in found]
    addresses = networks.instance_addresses(uuids) if uuids else {}
    image_ids = {r.image_ref for r in found if r.image_ref and services.is_uuid(r.image_ref)}
    image_names = (
        dict(
            Image.objects.visible_to(context)
            .filter(pk__in=image_ids)
            .values_list("id", "name")
            .iterator()
        )
        if image_ids
        else {}
    )
    allowed = allowed_actions(context)
    # Reversed once: a reverse() per row and per form would cost more than the rest of a row.
    placeholder = "00000000-0000-0000-0000-000000000000"
    page_url = reverse("dashboard:server", args=[placeholder])
    menu_url = (
        reverse("dashboard:server-actions", args=[placeholder]) + "?" + urlencode({"next": back})
    )
    now = timezone.now()
    rows = []
    for row in found:
        status = states.api_status(row.vm_state, row.task_state)
        image = image_names.get(uuid.UUID(row.image_ref)) if row.image_ref in image_ids else None
        rows.append(
            {
                "id": str(row.uuid),
                "url": page_url.replace(placeholder, str(row.uuid)),
                "menu_url": menu_url.replace(placeholder, str(row.uuid)),
                "name": row.name,
                "status": status,
                "task_state": row.task_state or "",
                "building": status == "BUILD",
                "progress": row.progress,
                "flavor": (row.flavor or {}).get("name", ""),
                "image": image or row.image_ref or "(volume)",
                "addresses": [
                    address["addr"]
                    for network in addresses.get(str(row.uuid), {}).values()
                    for address in network
                ],
                "host": row.host or "",
                "locked": row.locked,
                "created": row.created_at.isoformat(timespec="seconds"),
                "age": timesince(row.created_at, now),
                # The menu itself is fetched when opened (`server_action_menu`): a form per
                # action on every row would triple the page's weight and render time.
                "has_actions": bool(server_actions(context, row, allowed=allowed)),
            }
        )
    return {"rows": rows, "more": more}


def _list_data(request: HttpRequest, context: RequestContext) -> dict[str, Any]:
    page_number = _page_number(request)
    # Read before the rows: a change between the two shows now and again at the next poll.
    version = list_version(context)
    list_url = reverse("dashboard:servers")
    # Where actions come back to: this page of the list (not the poll's address).
    back = f"{list_url}?page={page_number}" if page_number > 1 else list_url
    return {
        **_rows(context, page_number, back),
        "version": version,
        "page": page_number,
        "show_host": context.is_admin,
        "can_launch": can(context, "os_compute_api:servers:create"),
    }


@require_GET
@page
def server_list(request: HttpRequest, context: RequestContext) -> HttpResponse:
    authorize(context, "os_compute_api:servers:detail")
    return show(
        request,
        context,
        "dashboard/servers/list.html",
        {"title": "Servers", **_list_data(request, context)},
    )


def _fragment(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An htmx fragment's gate before `page`'s: a poll whose session has ended sends the
    whole tab to the sign-in page (HX-Redirect), where `page` would answer the sign-in page
    itself, which htmx would swap into the list."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.headers.get("HX-Request") and not request.user.is_authenticated:
            response = HttpResponse(status=204)
            next_page = urlencode({"next": reverse("dashboard:servers")})
            response["HX-Redirect"] = f"{settings.LOGIN_URL}?{next_page}"
            return response
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
@_fragment
@page
def server_rows(request: HttpRequest, context: RequestContext) -> HttpResponse:
    """The list's live part: 204 while the version the page shows is current, else the
    rows again (with the new version, which the next poll sends)."""
    authorize(context, "os_compute_api:servers:detail")
    if request.GET.get("v") == list_version(context):
        return HttpResponse(status=204)
    return show(request, context, "dashboard/servers/_rows.html", _list_data(request, context))


# --- actions -------------------------------------------------------------------------------------
def _safe_next(request: HttpRequest, target: str) -> str:
    """`target` when it is a path of this site, else the list."""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("dashboard:servers")


def _back(request: HttpRequest, server: Server, name: str) -> str:
    """Where the action came from (`next`), but not the page of a server just deleted."""
    target = request.POST.get("next", "")
    if name == "delete" and target.startswith(reverse("dashboard:server", args=[server.uuid])):
        target = ""
    return _safe_next(request, target)


@require_GET
@_fragment
@page
def server_action_menu(
    request: HttpRequest, context: RequestContext, server_id: uuid.UUID
) -> HttpResponse:
    """A list row's actions menu, fetched when it is opened: the items of `_actions.html`."""
    authorize(context, "os_compute_api:servers:show")
    server = services.get_server(context, str(server_id))
    return show(
        request,
        context,
        "dashboard/servers/_actions.html",
        {
            "actions": server_actions(context, server),
            "action_url": reverse("dashboard:server-action", args=[server.uuid]),
            "next": _safe_next(request, request.GET.get("next", "")),
            "compact": True,
        },
    )


def _run(context: RequestContext, server: Server, name: str, request_id: str) -> None:
    """Ask for `name` on `server` through the service and policy action the API uses."""
    action = ACTIONS[name]
    if action.simple is not None:
        authorize(context, SIMPLE_ACTIONS[action.simple].policy)
        services.run_simple_action(
            context=context, server=server, action_name=action.simple, request_id=request_id
        )
    elif name == "lock":
        authorize(context, action.policy)
        services.lock_server(context=context, server=server, reason=None, request_id=request_id)
    elif name == "unlock":
        authorize(context, action.policy)
        services.unlock_server(context=context, server=server, request_id=request_id)
    elif name == "delete":
        authorize(context, action.policy)
        services.delete_server(context=context, server=server, request_id=request_id)


DONE = {
    "delete": "Deleting {name}.",
    "lock": "{name} is locked.",
    "unlock": "{name} is unlocked.",
}


@require_POST
@page
def server_action(
    request: HttpRequest, context: RequestContext, server_id: uuid.UUID
) -> HttpResponse:
    """POST action=<name> (and next=<path>): one of `ACTIONS` on one server. The policy's
    refusal is a 403 page and another project's server a 404 like an unknown one; a refusal
    of the server's state (409) is a message on the page the action came from."""
    authorize(context, "os_compute_api:servers:show")  # as the API's action endpoint
    server = services.get_server(context, str(server_id))
    name = request.POST.get("action", "")
    if name not in ACTIONS:
        raise InvalidInput(f"There is no such action: {name[:64]}")
    try:
        _run(context, server, name, request.request_id)  # type: ignore[attr-defined]
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        label = ACTIONS[name].label
        text = DONE.get(name, f"{label} of {{name}} requested.").format(name=server.name)
        messages.success(request, text)
    return redirect(_back(request, server, name))

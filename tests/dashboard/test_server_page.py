"""The dashboard's server page: its tabs, the live header, the console, the log, the history
and the "no valid host" explanation, through a signed-in browser on the real database.

Servers are created through the API and moved through the conductor's own steps
(`schedule_and_build_servers`, `build_server_done`), as tests/conductor does; no compute
worker runs: what the steps send to hosts after commit is never sent (these tests do not
commit), and the console output is asked of a host whose worker never answers.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.conductor import services as conductor
from apps.consoles.proxy import ConsoleProxyServer
from apps.servers import states
from apps.servers.choices import PowerState, TaskState, VmState
from apps.servers.models import InstanceAction, InstanceFault, Server
from computecloud.conf import cc_settings
from computecloud.messages import to_compute
from computecloud.queues import compute_queue
from tests.conftest import Caller
from tests.dashboard.conftest import Browser
from tests.harness import purge_broker
from tests.scheduler.helpers import create_host

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
CONSOLE = {"host": "127.0.0.1", "port": 5901}
HX_GET = re.compile(r'hx-get="([^"]+)"')
LOG_FOLLOWER = re.compile(r'id="server-log"[^>]* hx-get="([^"]+)"')


# --- servers, through the API and the conductor's steps ----------------------------------------
def create(caller: Caller, image_id: str, *, flavor: str = "0", name: str = "web-1") -> Server:
    body = {"server": {"name": name, "imageRef": image_id, "flavorRef": flavor, "networks": "none"}}
    response = caller.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    return Server.objects.get(uuid=response.json()["server"]["id"])


def create_request(server: Server) -> str:
    return InstanceAction.objects.get(server=server, action="create").request_id


def scheduled(caller: Caller, image_id: str, **kwargs: str) -> Server:
    server = create(caller, image_id, **kwargs)
    conductor.schedule_and_build_servers(
        server_uuids=[str(server.uuid)], request_id=create_request(server)
    )
    server.refresh_from_db()
    return server


def active(caller: Caller, image_id: str) -> Server:
    server = scheduled(caller, image_id)
    assert server.task_state == TaskState.SPAWNING
    conductor.build_server_done(
        host=server.host,
        server_uuid=str(server.uuid),
        request_id=create_request(server),
        power_state=PowerState.RUNNING,
        console=CONSOLE,
    )
    server.refresh_from_db()
    assert server.vm_state == VmState.ACTIVE
    return server


def page_of(server: Server, tab: str = "") -> str:
    return f"/servers/{server.uuid}/" + (f"?tab={tab}" if tab else "")


def text(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


@pytest.fixture
def host() -> str:
    create_host("cn-1")
    return "cn-1"


@pytest.fixture
def owner(member: Caller, browser_for: Callable[[Caller], Browser]) -> Browser:
    return browser_for(member)


# --- the tabs ---------------------------------------------------------------------------------
def test_each_tab_renders_for_the_owner(
    member: Caller, owner: Browser, image_id: str, host: str
) -> None:
    # given: an ACTIVE server with metadata
    server = active(member, image_id)
    assert (
        member.client.post(
            f"{SERVERS}/{server.uuid}/metadata", {"metadata": {"role": "web"}}, format="json", **V
        ).status_code
        == 200
    )

    # when / then: the overview shows the API's facts, and no host to a member
    overview = owner.get(page_of(server))
    assert overview.status_code == 200
    body = text(overview)
    assert "web-1" in body
    assert 'class="status status-ACTIVE"' in body
    assert "m1.nano" in body
    assert "128 MB RAM" in body
    assert "1 GB disk" in body
    assert ">tiny<" in body  # the image's name
    assert ">role<" in body
    assert ">web<" in body
    assert host not in body
    # the owner's buttons: what the policy and the state allow, posted to the action view
    assert f'action="/servers/{server.uuid}/action/"' in body
    assert 'name="action" value="stop"' in body
    assert 'name="action" value="start"' not in body
    for label in ("Overview", "Console", "Log", "Actions"):
        assert f">{label}</a>" in body
    assert 'aria-current="page" href="?tab=overview"' in body

    # the console: the noVNC page of the proxy, in a frame
    console = text(owner.get(page_of(server, "console")))
    frame = re.search(r'<iframe class="console-frame" src="([^"]+)"', console)
    assert frame, console
    assert frame.group(1).startswith(cc_settings.CONSOLE_PROXY_URL.rstrip("/") + "/")
    assert "token%3D" in frame.group(1)

    # the log: a follower of the log fragment
    log = text(owner.get(page_of(server, "log")))
    assert LOG_FOLLOWER.search(log).group(1) == f"/servers/{server.uuid}/log/?lines=100"
    assert 'hx-trigger="load, every 3s"' in log

    # the history: the create and its steps, newest first
    history = text(owner.get(page_of(server, "actions")))
    assert "create" in history
    built = history.index("compute_build_and_run_instance")
    assert built < history.index("conductor_schedule_and_build_instances")
    assert "Traceback" not in history
    assert host not in history


def test_the_console_frame_is_allowed_both_ways(
    member: Caller, owner: Browser, image_id: str, host: str
) -> None:
    # given
    server = active(member, image_id)
    # when
    response = owner.get(page_of(server, "console"))
    # then: the page's CSP lets it frame the proxy's origin...
    src = re.search(r'class="console-frame" src="([^"]+)"', text(response)).group(1)
    parts = urlsplit(src)
    assert f"frame-src {parts.scheme}://{parts.netloc}" in response["Content-Security-Policy"]
    # ...and the proxy's console page lets the dashboard's origin (the API's) frame it
    policy = ConsoleProxyServer.page_policy(SimpleNamespace(allowed_origins=[]), "n")
    public = urlsplit(settings.PUBLIC_URL)
    ancestors = next(p for p in policy.split("; ") if p.startswith("frame-ancestors"))
    assert f"{public.scheme}://{public.netloc}" in ancestors.split()


def test_the_console_of_a_stopped_server_says_there_is_none(
    member: Caller, owner: Browser, image_id: str, host: str
) -> None:
    # given: a server stopped (through the state machine's one writer)
    server = active(member, image_id)
    assert states.transition(
        server, action="stop", vm_state=VmState.STOPPED, power_state=PowerState.SHUTDOWN
    )
    # when
    response = owner.get(page_of(server, "console"))
    # then: a plain sentence, no frame, no error
    assert response.status_code == 200
    body = text(response)
    assert "There is no console while the server is SHUTOFF." in body
    assert "console-frame" not in body


def test_the_console_of_a_building_server_says_there_is_none(
    member: Caller, owner: Browser, image_id: str
) -> None:
    server = create(member, image_id)
    response = owner.get(page_of(server, "console"))
    assert response.status_code == 200
    assert "There is no console while the server is BUILD (scheduling)." in text(response)


# --- who sees what ------------------------------------------------------------------------------
def test_another_projects_server_is_the_same_404_as_an_unknown_one(
    member: Caller,
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    image_id: str,
) -> None:
    # given: a member's server, and a member of another project who knows its id
    server = create(member, image_id)
    stranger = browser_for(make_caller("member"))
    unknown = uuid.uuid4()
    for suffix in ("", "?tab=console", "?tab=log", "?tab=actions", "status/?v=1", "log/"):
        # when
        theirs = stranger.get(f"/servers/{server.uuid}/{suffix}")
        missing = stranger.get(f"/servers/{unknown}/{suffix}")
        # then: the same page, but for the id it names
        assert theirs.status_code == missing.status_code == 404, suffix
        assert text(theirs).replace(str(server.uuid), "X") == text(missing).replace(
            str(unknown), "X"
        )
        assert "web-1" not in text(theirs)


def test_a_reader_sees_no_actions_and_no_console_or_log(
    member: Caller, reader: Caller, browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    # given
    server = create(member, image_id)
    browser = browser_for(reader)
    # when
    page = browser.get(page_of(server))
    # then: the server, read only: no form acts on it, and the member-only tabs are not offered
    assert page.status_code == 200
    body = text(page)
    assert "web-1" in body
    assert f'action="/servers/{server.uuid}/' not in body
    assert body.count("<form") == 2  # the project switcher and sign-out only
    assert "?tab=console" not in body
    assert "?tab=log" not in body
    assert "?tab=actions" in body
    # and asking for them anyway is the policy's 403, as the API answers
    assert browser.get(page_of(server, "console")).status_code == 403
    assert browser.get(f"/servers/{server.uuid}/log/").status_code == 403


def test_malformed_parameters_are_400_pages(member: Caller, owner: Browser, image_id: str) -> None:
    server = create(member, image_id)
    assert owner.get(page_of(server, "nope")).status_code == 400
    assert owner.get(page_of(server, "x" * 5000)).status_code == 400
    assert owner.get(f"/servers/{server.uuid}/log/?lines=-1").status_code == 400
    assert owner.get(f"/servers/{server.uuid}/log/?lines=99999999999").status_code == 400


def test_anonymous_is_sent_to_sign_in(member: Caller, image_id: str) -> None:
    server = create(member, image_id)
    for path in (
        page_of(server),
        f"/servers/{server.uuid}/status/",
        f"/servers/{server.uuid}/log/",
    ):
        response = Browser(enforce_csrf_checks=True).get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


# --- the live header ------------------------------------------------------------------------------
def test_the_status_fragment_is_204_until_the_server_changes(
    member: Caller, owner: Browser, image_id: str, host: str
) -> None:
    # given: the page as the browser has it, with the header's poll
    server = active(member, image_id)
    page = text(owner.get(page_of(server)))
    poll = HX_GET.search(page[page.index('id="server-head"') - 20 :]).group(1)
    assert poll.startswith(f"/servers/{server.uuid}/status/?v=")
    assert 'hx-trigger="every 2s"' in page

    # when: nothing changed
    unchanged = owner.get(poll)
    # then: nothing to swap
    assert unchanged.status_code == 204
    assert unchanged.content == b""

    # when: the server is stopped (through apps/servers/states.py)
    assert states.transition(
        server,
        action="stop",
        vm_state=VmState.STOPPED,
        task_state=None,
        power_state=PowerState.SHUTDOWN,
    )
    changed = owner.get(poll)
    # then: the new header, polling with the new version
    assert changed.status_code == 200
    fragment = text(changed)
    assert 'class="status status-SHUTOFF"' in fragment
    assert "<html" not in fragment
    # and the buttons the new state allows come along, out of band
    assert 'id="server-actions" hx-swap-oob="true"' in fragment
    assert 'name="action" value="start"' in fragment
    assert 'name="action" value="stop"' not in fragment
    next_poll = HX_GET.search(fragment).group(1)
    assert next_poll != poll
    assert owner.get(next_poll).status_code == 204

    # when: a task starts, the header shows it
    assert states.transition(server, action="start", task_state=TaskState.POWERING_ON)
    assert "powering-on" in text(owner.get(next_poll))


def test_a_button_on_the_page_acts_and_comes_back_to_the_tab(
    member: Caller, owner: Browser, image_id: str, host: str
) -> None:
    # given: the owner on the history tab of an ACTIVE server
    server = active(member, image_id)
    tab = page_of(server, "actions")
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*>.*?name="action" value="stop">'
        r'<input type="hidden" name="next" value="([^"]+)">',
        text(owner.get(tab)),
    )
    assert form, "no stop button"
    # when: the button is pressed (the form's CSRF token, as a browser sends it)
    response = owner.submit(form.group(1), {"action": "stop", "next": form.group(2)}, page=tab)
    # then: back on the tab, the stop under way, and in the history
    assert response.status_code == 302
    assert response["Location"] == tab
    shown = text(owner.get(response["Location"]))
    assert "powering-off" in shown
    assert ">stop</h2>" in shown


def test_the_status_of_a_deleted_server_ends_the_poll(
    member: Caller,
    owner: Browser,
    image_id: str,
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
) -> None:
    # given: a server deleted through the API (no host yet: deleted at once)
    server = create(member, image_id)
    assert member.client.delete(f"{SERVERS}/{server.uuid}", **V).status_code == 204
    # when
    response = owner.get(f"/servers/{server.uuid}/status/?v=1")
    # then: htmx's "stop polling", with the last word
    assert response.status_code == 286
    assert 'class="status status-DELETED"' in text(response)
    assert "hx-get" not in text(response)
    # and for another project the deleted server is as unknown as any other id
    stranger = browser_for(make_caller("member"))
    unknown = uuid.uuid4()
    theirs = stranger.get(f"/servers/{server.uuid}/status/?v=1")
    missing = stranger.get(f"/servers/{unknown}/status/?v=1")
    assert theirs.status_code == missing.status_code == 404
    assert text(theirs).replace(str(server.uuid), "X") == text(missing).replace(str(unknown), "X")


# --- the log ------------------------------------------------------------------------------------
@pytest.fixture
def silent_host() -> Iterator[str]:
    """A compute host with a fresh heartbeat whose worker never takes its queue (as
    tests/servers/test_console_output_api.py)."""
    name = f"silent-{uuid.uuid4().hex[:8]}"
    create_host(name)
    yield name
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(compute_queue(name))


def test_the_log_of_a_host_that_does_not_answer_says_it_retries(
    member: Caller, owner: Browser, image_id: str, silent_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an ACTIVE server on a host that never answers; the wait shortened
    server = active(member, image_id)
    assert server.host == silent_host
    monkeypatch.setattr(to_compute, "CONSOLE_OUTPUT_TIMEOUT", 0.5)
    log_url = LOG_FOLLOWER.search(text(owner.get(page_of(server, "log")))).group(1)
    # when: the follower asks, as htmx does
    response = owner.get(log_url, HTTP_HX_REQUEST="true")
    # then: a sentence, not a failure, and nothing about the host
    assert response.status_code == 200
    body = text(response)
    assert "The host did not answer; retrying." in body
    assert silent_host not in body
    assert "<html" not in body


def test_the_log_of_a_building_server_says_why_it_is_empty(
    member: Caller, owner: Browser, image_id: str
) -> None:
    server = create(member, image_id)
    response = owner.get(f"/servers/{server.uuid}/log/")
    assert response.status_code == 200
    assert "no console output while the server is BUILD; retrying." in text(response)


# --- no valid host --------------------------------------------------------------------------------
# A row of the table: step, count, reason; and, for those who see host names, the names.
ROW = r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td><td>([^<]+)</td>"
TABLE_ROW = re.compile(ROW)
NAMED_ROW = re.compile(ROW + r"<td class=\"mono\">([^<]*)</td>")


def table_in(body: str) -> str:
    table = body[body.index('class="table table-sm table-hover mb-1 no-valid-host"') :]
    return table[: table.index("</table>")]


@pytest.fixture
def unfit_hosts() -> list[str]:
    """Three hosts, none of which takes an m1.medium (4096 MB): one too small, one down,
    one disabled."""
    create_host("cn-small", memory_mb=1024)
    create_host("cn-down", up=False)
    create_host("cn-off", disabled=True)
    return ["cn-small", "cn-down", "cn-off"]


def test_no_valid_host_shows_which_filter_removed_which_hosts(
    member: Caller,
    reader: Caller,
    admin: Caller,
    owner: Browser,
    browser_for: Callable[[Caller], Browser],
    image_id: str,
    unfit_hosts: list[str],
) -> None:
    # given: a build the scheduler could place nowhere (the conductor's own pass)
    server = scheduled(member, image_id, flavor="3")
    assert server.vm_state == VmState.ERROR

    # when: its owner opens the page
    body = text(owner.get(page_of(server)))
    # then: the fault, and the table of the kept explanation: steps, counts and reasons
    assert "No valid host was found." in body
    rows = [
        ("RAM", "1", "has less than 4096 MB free"),
        ("ComputeFilter", "1", "is down"),
        ("ComputeFilter", "1", "is disabled"),
    ]
    assert TABLE_ROW.findall(table_in(body)) == rows
    assert not [name for name in unfit_hosts if name in body]
    assert "Hosts removed" not in body
    # and so for a reader of the project
    read = text(browser_for(reader).get(page_of(server)))
    assert TABLE_ROW.findall(table_in(read)) == rows
    assert not [name for name in unfit_hosts if name in read]

    # when: an admin opens it: the hosts are named (as a 500 fault's details: admins only)
    named = NAMED_ROW.findall(table_in(text(browser_for(admin).get(page_of(server)))))
    assert named == [
        ("RAM", "1", "has less than 4096 MB free", "cn-small"),
        ("ComputeFilter", "1", "is down", "cn-down"),
        ("ComputeFilter", "1", "is disabled", "cn-off"),
    ]

    # and: the history shows the failed scheduling step to its owner, without a traceback
    history = text(owner.get(page_of(server, "actions")))
    assert "conductor_schedule_and_build_instances" in history
    assert "status-ERROR" in history
    assert "Traceback" not in history


def test_the_unchanged_status_answer_is_light(
    member: Caller,
    owner: Browser,
    image_id: str,
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    # given
    server = create(member, image_id)
    page = text(owner.get(page_of(server)))
    poll = HX_GET.search(page).group(1)
    # when / then: the session, the caller's scope and one read of the server
    with django_assert_max_num_queries(6):  # type: ignore[operator]
        assert owner.get(poll).status_code == 204


def test_every_row_shows_when_the_message_was_cut_and_admins_see_twenty_names_a_row(
    member: Caller,
    admin: Caller,
    owner: Browser,
    browser_for: Callable[[Caller], Browser],
    image_id: str,
) -> None:
    # given: two m1.medium (2 VCPU, 4096 MB, 40 GB) for 27 hosts, where one fits and the
    # others fail for five reasons: a summary longer than the fault's 255 characters
    small = [f"cn-small-{i:02}" for i in range(22)]
    for name in small:
        create_host(name, memory_mb=1024)
    create_host("cn-fits-one", memory_mb=4096)
    create_host("cn-one-cpu", vcpus=1)
    create_host("cn-tiny-disk", disk_gb=10)
    create_host("cn-down", up=False)
    create_host("cn-off", disabled=True)
    body = {
        "server": {
            "name": "pair",
            "imageRef": image_id,
            "flavorRef": "3",
            "networks": "none",
            "min_count": 2,
        }
    }
    response = member.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    servers = list(Server.objects.filter(project_id=member.project.pk).order_by("launch_index"))
    conductor.schedule_and_build_servers(
        server_uuids=[str(s.uuid) for s in servers], request_id=create_request(servers[0])
    )
    server = servers[0]
    server.refresh_from_db()
    assert server.vm_state == VmState.ERROR
    fault = server.faults.get()
    assert len(fault.message) == 255
    assert fault.message.startswith("No valid host was found. Only 1 of 2 instances fit.")
    assert "is disabled" not in fault.message  # cut before the last row

    # when: its owner opens the page
    page = text(owner.get(page_of(server)))
    # then: every row, the one the cut message lost included, and no host name
    assert TABLE_ROW.findall(table_in(page)) == [
        ("RAM", "23", "has less than 4096 MB free"),
        ("VCPU", "1", "has fewer than 2 VCPUs free"),
        ("Disk", "1", "has less than 40 GB of disk free"),
        ("ComputeFilter", "1", "is down"),
        ("ComputeFilter", "1", "is disabled"),
    ]
    assert "cn-" not in page
    assert "Hosts removed" not in page

    # when: an admin opens it: twenty names a row at most, the count whole
    named = NAMED_ROW.findall(table_in(text(browser_for(admin).get(page_of(server)))))
    assert [row[:3] for row in named] == TABLE_ROW.findall(table_in(page))
    ram = named[0][3]
    assert ram.endswith(" …")
    names = ram.removesuffix(" …").split(", ")
    assert len(names) == 20
    assert set(names) <= {*small, "cn-fits-one"}
    assert [row[3] for row in named[1:]] == ["cn-one-cpu", "cn-tiny-disk", "cn-down", "cn-off"]


def test_a_fault_kept_without_an_explanation_shows_its_message_and_no_table(
    member: Caller,
    admin: Caller,
    owner: Browser,
    browser_for: Callable[[Caller], Browser],
    image_id: str,
    unfit_hosts: list[str],
) -> None:
    # given: a "No valid host" fault as faults were kept before the explanation was
    server = scheduled(member, image_id, flavor="3")
    assert InstanceFault.objects.filter(server=server).update(explanation=None) == 1
    # when / then: the message, and no table, whoever reads it
    for browser in (owner, browser_for(admin)):
        body = text(browser.get(page_of(server)))
        assert "No valid host was found." in body
        assert "no-valid-host" not in body
        assert "Which filter removed which hosts" not in body


# --- in a real browser ----------------------------------------------------------------------------
def in_thread(work: Callable[[], object]) -> None:
    """Run ORM work outside the thread where Playwright's event loop runs (Django refuses
    synchronous database calls there)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if failure:
        raise failure[0]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_chromium_the_header_goes_live_and_every_tab_fits_both_widths(
    live_server: Any,
    make_caller: Callable[..., Caller],
    image_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    from tests.e2e.test_console_browser import chromium_page

    # given: a member's ACTIVE server on a host whose worker never answers, and one whose
    # build found no host (m1.large fits neither the 4 GB host nor the disabled one)
    create_host("cn-1", memory_mb=4096)
    create_host("cn-off", disabled=True)
    member = make_caller("member")
    member.user.default_project_id = member.project.pk
    member.user.save(update_fields=["default_project_id"])
    server = active(member, image_id)
    failed = scheduled(member, image_id, flavor="4", name="too-big")
    assert failed.vm_state == VmState.ERROR
    monkeypatch.setattr(to_compute, "CONSOLE_OUTPUT_TIMEOUT", 0.5)
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    problems: list[str] = []

    def shoot(page: Any, name: str) -> None:
        for label, width in {"laptop": 1280, "phone": 390}.items():
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(200)
            page.screenshot(path=shots / f"server-page-{name}-{label}.png", full_page=True)
            # nothing wider than the screen: tables and tabs scroll inside their boxes
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, label)
        page.set_viewport_size({"width": 1280, "height": 900})

    try:
        with chromium_page() as page:
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{base}/login/")
            page.fill("#id_username", member.user.username)
            page.fill("#id_password", "secret-password")
            page.click("button[type=submit]")
            page.goto(f"{base}{page_of(server)}")
            head = page.locator("#server-head .status")
            expect(head).to_have_text("ACTIVE")
            expect(page.get_by_role("button", name="Stop")).to_be_visible()
            page.evaluate("() => { window.__notReloaded = true; }")
            shoot(page, "overview")

            # when: the server stops behind the page's back
            in_thread(
                lambda: states.transition(
                    server, action="stop", vm_state=VmState.STOPPED, power_state=4
                )
            )
            # then: the header and the buttons follow within a poll or two, without a reload
            expect(head).to_have_text("SHUTOFF", timeout=5_000)
            expect(page.get_by_role("button", name="Start")).to_be_visible()
            expect(page.get_by_role("button", name="Stop")).to_have_count(0)
            assert page.evaluate("() => window.__notReloaded === true")

            # the tabs, by keyboard-usable links
            page.get_by_role("link", name="Console", exact=True).click()
            expect(page.locator("#tab-console")).to_contain_text("no console while")
            shoot(page, "console")
            page.get_by_role("link", name="Log", exact=True).click()
            expect(page.locator("#server-log")).to_contain_text(
                "The host did not answer; retrying.", timeout=10_000
            )
            shoot(page, "log")
            page.get_by_role("link", name="Actions", exact=True).click()
            expect(page.locator("#tab-actions")).to_contain_text("compute_build_and_run_instance")
            shoot(page, "actions")
            page.goto(f"{base}{page_of(failed)}")
            expect(page.locator("table.no-valid-host")).to_contain_text("ComputeFilter")
            shoot(page, "no-valid-host")
    finally:
        in_thread(purge_broker)  # the builds the conductor sent to hosts that are not there

    assert problems == []


def test_the_log_shows_console_output_without_terminal_control_sequences() -> None:
    from apps.dashboard.views.server import readable

    raw = "dash:/# \x1b[6n\x1b[0;32mok\x1b[0m\r\nnext\tline\x07\n"
    assert readable(raw) == "dash:/# ok\nnext\tline\n"

"""The servers list, its live rows and the actions on a server, through a signed-in browser.

Servers are created through the API (POST /servers: no conductor runs, the build is only
enqueued) and moved on through `states.transition`, the one writer of state columns, as the
conductor moves them.
"""

import re
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.servers import states
from apps.servers.choices import TaskState, VmState
from apps.servers.models import Server
from tests.conftest import Caller
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.django_db

SERVERS = "/compute/v2.1/servers"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
POLL = re.compile(r'hx-get="(/servers/rows/\?v=[^"]+)"')


def launch(caller: Caller, image_id: str, name: str = "vm") -> Server:
    body = {"server": {"name": name, "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = caller.client.post(SERVERS, body, format="json", **V)
    assert response.status_code == 202, response.content
    return Server.objects.get(uuid=response.json()["server"]["id"])


def make_active(server: Server) -> None:
    """As the conductor finishes a build: ACTIVE, idle, progress 100."""
    states.transition(
        server, action="build done", vm_state=VmState.ACTIVE, task_state=None, progress=100
    )


def poll_url(html: str) -> str:
    match = POLL.search(html)
    assert match, "the list does not poll"
    return match.group(1).replace("&amp;", "&")


def action(browser: Browser, server: Server, name: str, next_: str = "/servers/") -> object:
    return browser.submit(
        f"/servers/{server.uuid}/action/", {"action": name, "next": next_}, page="/servers/"
    )


def menu(browser: Browser, server: Server) -> str:
    """A list row's actions menu, as the row fetches it when opened."""
    response = browser.get(f"/servers/{server.uuid}/actions/?next=/servers/")
    assert response.status_code == 200
    return response.content.decode()


def offered(browser: Browser, server: Server) -> set[str]:
    return set(re.findall(r'name="action" value="([a-z_]+)"', menu(browser, server)))


# --- the list ------------------------------------------------------------------------------------
def test_the_list_shows_the_callers_project_and_nothing_of_others(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    # given: a server in the member's project and one in another project
    member = make_caller("member")
    mine = launch(member, image_id, "mine-vm")
    theirs = launch(make_caller("member"), image_id, "theirs-vm")
    # when
    page = browser_for(member).get("/servers/")
    html = page.content.decode()
    # then: the API's status for a server being scheduled, its build progress, its page link
    assert page.status_code == 200
    assert "mine-vm" in html
    assert f'href="/servers/{mine.uuid}/"' in html
    assert '<span class="status status-BUILD">BUILD</span>' in html
    assert 'value="0" aria-label="Build progress"' in html
    assert "scheduling" in html  # the task state
    assert "m1.nano" in html
    assert "tiny" in html
    assert "theirs-vm" not in html
    assert str(theirs.uuid) not in html
    assert ">Host</th>" not in html  # hosts are for admins
    assert "No servers yet" not in html


def test_an_admin_sees_where_the_servers_run(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    admin = make_caller("admin")
    server = launch(admin, image_id, "placed")
    states.transition(server, action="scheduled", host="host-a", task_state=TaskState.SPAWNING)
    html = browser_for(admin).get("/servers/").content.decode()
    assert ">Host</th>" in html
    assert "<td>host-a</td>" in html


def test_the_empty_list_offers_a_launch_to_members_only(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    reader = make_caller("reader", project=member.project)
    member_html = browser_for(member).get("/servers/").content.decode()
    assert "No servers yet." in member_html
    assert 'href="/servers/launch/">Launch one</a>' in member_html
    reader_html = browser_for(reader).get("/servers/").content.decode()
    assert "No servers yet." in reader_html
    assert "/servers/launch/" not in reader_html


def test_a_page_of_servers_costs_the_same_statements_whatever_it_holds(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    launch(member, image_id, "first")
    with CaptureQueriesContext(connection) as one:
        assert browser.get("/servers/").status_code == 200
    for index in range(5):
        make_active(launch(member, image_id, f"more-{index}"))
    with CaptureQueriesContext(connection) as six:
        html = browser.get("/servers/").content.decode()
    assert html.count("data-server=") == 6
    assert len(six.captured_queries) == len(one.captured_queries)


# --- live rows -----------------------------------------------------------------------------------
def test_the_poll_answers_204_until_a_server_changes_then_the_new_rows(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id, "live-vm")
    browser = browser_for(member)
    url = poll_url(browser.get("/servers/").content.decode())
    # unchanged: nothing to swap
    unchanged = browser.get(url)
    assert unchanged.status_code == 204
    assert unchanged.content == b""
    # when: the conductor moves the build on (the one state-changing function)
    states.transition(server, action="spawn", task_state=TaskState.SPAWNING, progress=40)
    changed = browser.get(url)
    # then: the rows again, with the new state and progress and a new version to poll with
    html = changed.content.decode()
    assert changed.status_code == 200
    assert "spawning" in html
    assert 'value="40"' in html
    assert "<html" not in html  # a fragment, not a page
    new_url = poll_url(html)
    assert new_url != url
    assert browser.get(new_url).status_code == 204
    # and when it becomes ACTIVE
    make_active(server)
    active = browser.get(new_url)
    assert active.status_code == 200
    assert '<span class="status status-ACTIVE">ACTIVE</span>' in active.content.decode()


def test_the_poll_sees_a_new_server_and_a_deleted_one(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    url = poll_url(browser.get("/servers/").content.decode())
    first = launch(member, image_id, "newcomer")
    appeared = browser.get(url)
    assert appeared.status_code == 200
    assert "newcomer" in appeared.content.decode()
    url = poll_url(appeared.content.decode())
    assert action(browser, first, "delete").status_code == 302
    gone = browser.get(url)
    assert gone.status_code == 200
    assert "No servers yet." in gone.content.decode()


def test_the_poll_is_another_projects_blind_spot(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    # another project's changes leave this project's version as it was
    member = make_caller("member")
    browser = browser_for(member)
    url = poll_url(browser.get("/servers/").content.decode())
    launch(make_caller("member"), image_id, "elsewhere")
    assert browser.get(url).status_code == 204


def test_a_poll_after_the_session_ended_sends_the_tab_to_the_sign_in_page(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    browser = browser_for(make_caller("member"))
    url = poll_url(browser.get("/servers/").content.decode())
    browser.submit("/logout/", {})
    polled = browser.get(url, headers={"HX-Request": "true"})
    assert polled.status_code == 204
    assert polled["HX-Redirect"] == "/login/?next=%2Fservers%2F"
    # without htmx, the ordinary redirect to the sign-in page
    assert browser.get(url)["Location"].startswith("/login/?next=")


def test_a_malformed_page_number_is_a_400_page(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    browser = browser_for(make_caller("member"))
    for query in ["page=abc", "page=0", "page=99999999999999999999"]:
        assert browser.get(f"/servers/?{query}").status_code == 400
        assert browser.get(f"/servers/rows/?v=x&{query}").status_code == 400


# --- actions -------------------------------------------------------------------------------------
def test_an_active_server_offers_what_its_state_allows(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    make_active(server)
    browser = browser_for(member)
    row = browser.get("/servers/").content.decode()
    # the row's menu toggle fetches the menu when opened
    assert f'hx-get="/servers/{server.uuid}/actions/?next=%2Fservers%2F"' in row
    assert offered(browser, server) == {
        "stop",
        "reboot",
        "reboot_hard",
        "pause",
        "suspend",
        "lock",
        "delete",
    }
    html = menu(browser, server)
    assert f'action="/servers/{server.uuid}/action/"' in html
    assert 'name="next" value="/servers/"' in html
    # destructive ones ask first
    assert 'data-confirm="Delete server vm? This cannot be undone."' in html
    assert 'data-confirm="Stop server vm?"' in html
    assert 'data-confirm="Hard reboot server vm?' in html


def test_stop_goes_through_the_service_and_comes_back_with_a_message(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    make_active(server)
    browser = browser_for(member)
    response = action(browser, server, "stop", next_="/servers/?page=1")
    assert response.status_code == 302
    assert response["Location"] == "/servers/?page=1"
    server.refresh_from_db()
    assert server.task_state == TaskState.POWERING_OFF
    assert server.actions.filter(action="stop").exists()
    html = browser.get("/servers/").content.decode()
    assert "Stop of vm requested." in html
    # while it powers off, nothing else but a delete is offered
    assert offered(browser, server) == {"lock", "delete"}


def test_a_refusal_of_the_state_is_a_message_on_the_page_not_an_error(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)  # building: start is refused (409 in the API)
    browser = browser_for(member)
    response = action(browser, server, "start")
    assert response.status_code == 302
    assert response["Location"] == "/servers/"
    html = browser.get("/servers/").content.decode()
    refusal = f"Cannot &#x27;start&#x27; instance {server.uuid} while it is in vm_state building"
    assert refusal in html


def test_lock_leaves_its_owner_only_unlock_and_unlock_gives_the_rest_back(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    make_active(server)
    browser = browser_for(member)
    assert action(browser, server, "lock").status_code == 302
    assert offered(browser, server) == {"unlock"}
    assert ">locked</span>" in browser.get("/servers/").content.decode()
    # a locked server refuses its owner's stop, as the API does (409 → a message)
    action(browser, server, "stop")
    assert f"Instance {server.uuid} is locked" in browser.get("/servers/").content.decode()
    assert action(browser, server, "unlock").status_code == 302
    server.refresh_from_db()
    assert not server.locked


def test_delete_removes_the_server_and_never_returns_to_its_page(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    browser = browser_for(member)
    response = action(browser, server, "delete", next_=f"/servers/{server.uuid}/")
    assert response.status_code == 302
    assert response["Location"] == "/servers/"
    assert not Server.objects.filter(pk=server.pk).exists()  # no host: deleted at once


def test_another_projects_server_is_a_404_like_an_unknown_one(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    theirs = launch(make_caller("member"), image_id, "theirs")
    make_active(theirs)
    browser = browser_for(member)
    made_up = uuid.uuid4()
    for response_of in (
        lambda target: browser.submit(
            f"/servers/{target}/action/", {"action": "stop"}, page="/servers/"
        ),
        lambda target: browser.get(f"/servers/{target}/actions/"),
    ):
        foreign = response_of(theirs.uuid)
        unknown = response_of(made_up)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.content.decode().replace(
            str(theirs.uuid), "X"
        ) == unknown.content.decode().replace(str(made_up), "X")
    theirs.refresh_from_db()
    assert theirs.task_state is None


def test_a_reader_sees_no_buttons_and_is_refused_an_action(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    reader = make_caller("reader", project=member.project)
    server = launch(member, image_id)
    make_active(server)
    browser = browser_for(reader)
    html = browser.get("/servers/").content.decode()
    assert f'href="/servers/{server.uuid}/"' in html
    assert "/actions/" not in html  # no menu toggle
    assert "/servers/launch/" not in html
    assert offered(browser, server) == set()
    assert "Nothing to do now" in menu(browser, server)
    for name in ["stop", "delete", "lock"]:
        assert action(browser, server, name).status_code == 403
    server.refresh_from_db()
    assert server.task_state is None
    assert not server.locked


def test_an_action_needs_the_csrf_token_and_a_post(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    make_active(server)
    browser = browser_for(member)
    url = f"/servers/{server.uuid}/action/"
    assert browser.post(url, {"action": "stop"}).status_code == 403
    assert browser.get(url).status_code == 405
    server.refresh_from_db()
    assert server.task_state is None


def test_malformed_actions_are_400_or_404_never_500(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    browser = browser_for(member)
    assert action(browser, server, "format-disk").status_code == 400
    assert action(browser, server, "x" * 100_000).status_code == 400
    not_uuid = browser.submit("/servers/not-a-uuid/action/", {"action": "stop"}, page="/servers/")
    assert not_uuid.status_code == 404


def test_next_never_leads_off_site(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], image_id: str
) -> None:
    member = make_caller("member")
    server = launch(member, image_id)
    make_active(server)
    browser = browser_for(member)
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]:
        response = action(browser, server, "reboot_hard", next_=target)
        assert response["Location"] == "/servers/", target
        listed = browser.get(f"/servers/{server.uuid}/actions/", {"next": target})
        assert 'name="next" value="/servers/"' in listed.content.decode(), target

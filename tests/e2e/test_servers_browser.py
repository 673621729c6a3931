"""The dashboard's servers list in a real browser: a state change shows without a reload
within the poll's 2 seconds, a row's actions menu opens, a destructive action asks first and
goes through, nothing breaks the Content-Security-Policy, and the page fits a phone's width.
Headless Chromium (Debian's, driven by Playwright) against the live server."""

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from apps.servers import states
from apps.servers.choices import TaskState, VmState
from apps.servers.models import Server
from tests.dashboard.test_servers import launch
from tests.e2e.test_console_browser import chromium_page

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "secret-password"  # tests.factories.UserFactory's
WAIT_MS = 15_000


def outside_the_loop(work: Callable[[], Any]) -> Any:
    """Run database work in a thread of its own: Playwright's sync API runs an event loop in
    this one, where Django refuses the ORM."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    assert result, "the work failed"
    return result[0]


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_the_list_follows_a_server_live_and_acts_on_it(
    live_server, make_caller, image_id: str, tmp_path: Path
) -> None:
    # given: a member's server being built
    member = make_caller("member")
    server = launch(member, image_id, "live-vm")
    with chromium_page() as page:
        problems: list[str] = []
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        sign_in(page, live_server.url, member.user.username)
        page.goto(f"{live_server.url}/servers/")
        row = page.locator(f"tr[data-server='{server.uuid}']")
        expect(row.locator(".status")).to_have_text("BUILD", timeout=WAIT_MS)
        page.evaluate("window.notReloaded = true")

        # when: the conductor would finish the build
        outside_the_loop(
            lambda: states.transition(
                server, action="build done", vm_state=VmState.ACTIVE, task_state=None, progress=100
            )
        )
        # then: the row shows it within the poll's period, without a reload
        expect(row.locator(".status")).to_have_text("ACTIVE", timeout=3_000)
        assert page.evaluate("window.notReloaded") is True

        # when: the row's menu is opened and Stop chosen, the browser asks first
        questions: list[str] = []

        def answer(dialog) -> None:
            questions.append(dialog.message)
            dialog.accept()

        page.on("dialog", answer)
        row.get_by_role("button", name="Actions for live-vm").click()
        menu = row.locator(".dropdown-menu")
        expect(menu).to_contain_text("Hard reboot", timeout=WAIT_MS)
        menu.get_by_role("button", name="Stop", exact=True).click()
        expect(page.locator(".messages")).to_contain_text("Stop of live-vm requested.")
        assert questions == ["Stop server live-vm?"]
        stopping = outside_the_loop(lambda: Server.objects.get(pk=server.pk).task_state)
        assert stopping == TaskState.POWERING_OFF

        # the page fits a phone: the table scrolls inside its box, nothing else is wider
        page.set_viewport_size({"width": 390, "height": 800})
        page.screenshot(path=tmp_path / "servers-phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert not [p for p in problems if "Content Security Policy" in p], problems


def test_the_launch_form_shows_the_apis_refusal_at_the_field_then_launches(
    live_server, make_caller, image_id: str, tmp_path: Path
) -> None:
    member = make_caller("member")
    with chromium_page() as page:
        sign_in(page, live_server.url, member.user.username)
        page.goto(f"{live_server.url}/servers/")
        page.get_by_role("link", name="Launch one").click()
        # a blank name: the API's words under the field, what was chosen kept
        page.get_by_label("Name").fill("   ")
        page.get_by_label("Flavor").select_option("0")
        page.get_by_label("Image").select_option(image_id)
        page.get_by_role("button", name="Launch").click()
        expect(page.locator("#name-error")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#name-error")).to_have_text("name must not be blank.")
        expect(page.get_by_label("Image")).to_have_value(image_id)
        page.set_viewport_size({"width": 390, "height": 800})
        page.screenshot(path=tmp_path / "launch-error-phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.set_viewport_size({"width": 1280, "height": 800})
        # mended: the server's page opens
        page.get_by_label("Name").fill("from-the-form")
        page.get_by_role("button", name="Launch").click()
        page.wait_for_url(f"{live_server.url}/servers/*/", timeout=WAIT_MS)
        created = outside_the_loop(
            lambda: list(Server.objects.filter(project=member.project).values_list("uuid", "name"))
        )
        assert len(created) == 1
        assert created[0][1] == "from-the-form"
        assert page.url == f"{live_server.url}/servers/{created[0][0]}/"

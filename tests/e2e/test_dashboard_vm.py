"""The dashboard end to end, as a person uses it, in headless Chromium (Debian's, driven by
Playwright) against the live server, the conductor, a compute worker on qemu:///system and
the console proxy:

- the project's member signs in, launches a server from the tinyos image on a real QEMU
  guest, and sees it turn ACTIVE without a reload; opens the console tab and sees the
  guest's screen through the proxy; reads the guest's boot in the log tab; stops and starts
  it; deletes it;
- a reader of the same project sees the server but no action button, and is refused (403)
  when it posts an action anyway;
- every main page is photographed at a laptop's and a phone's width (the test's tmp
  directory, or ``DASHBOARD_SCREENSHOTS`` when set), for a person to look at.

Run it alone on the machine:
``flock /tmp/cc-vm.lock pytest -m vm tests/e2e/test_dashboard_vm.py``.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from apps.identity.services import assign_roles
from tests.cloud import Cloud
from tests.consoles.conftest import ConsoleProxy, start_console_proxy
from tests.e2e.test_console_browser import CHROMIUM, CHROMIUM_ARGS, MIN_LIT_PIXELS
from tests.factories import ProjectFactory, UserFactory
from tests.harness import wait_until

logger = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.vm,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "secret-password"  # tests.factories.UserFactory's
WIDTHS = {"laptop": 1280, "phone": 390}
BOOT_MS = 240_000
STATE_MS = 120_000
# The same count as tests/e2e/test_console_browser.py, read inside the console's frame.
CANVAS_LIT_JS = """
() => {
  const canvas = document.querySelector('#screen canvas');
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let lit = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] || data[i + 1] || data[i + 2]) lit++;
  }
  return lit;
}
"""


@pytest.fixture
def proxy(tmp_path: Path, live_server: Any, settings: Any) -> Iterator[ConsoleProxy]:
    """The console proxy, letting the live server's pages frame its noVNC page."""
    origin = live_server.url.split("://", 1)[1]
    running = start_console_proxy(tmp_path, "--allowed-origin", origin)
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "CONSOLE_PROXY_URL": running.url}
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def new_page(browser: Browser) -> Page:
    page = browser.new_page(viewport={"width": WIDTHS["laptop"], "height": 900})
    # Destructive actions ask first (static/dashboard/dashboard.js): a person says yes.
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#main")).to_be_visible()


def shoot(page: Page, directory: Path, name: str) -> None:
    """The page at both widths, whole."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        path = directory / f"{name}-{label}.png"
        page.screenshot(path=path, full_page=True)
        logger.info("screenshot %s", path)
    page.set_viewport_size({"width": WIDTHS["laptop"], "height": 900})


def status(page: Page) -> Any:
    return page.locator("#server-head .status")


def choose(page: Page, select: str, starts_with: str) -> None:
    """Pick the option of `select` whose text starts with `starts_with`."""
    labels = page.locator(f"{select} option").all_inner_texts()
    label = next(text for text in labels if text.strip().startswith(starts_with))
    page.select_option(select, label=label)


@pytest.fixture
def people() -> dict[str, str]:
    """A project's member, reader and admin (user names): made before the browser starts,
    since Django refuses the ORM in a thread where Playwright's event loop runs."""
    project = ProjectFactory(name=f"dash-{uuid.uuid4().hex[:6]}")
    names = {}
    for role in ("member", "reader", "admin"):
        user = UserFactory(default_project_id=project.pk)
        assign_roles(user=user, project=project, roles=[role])
        names[role] = user.username
    return names


def test_a_member_runs_a_server_from_the_dashboard_and_a_reader_only_watches(
    qemu_cloud: Cloud,
    proxy: ConsoleProxy,
    live_server: Any,
    people: dict[str, str],
    chromium: Browser,
    shots: Path,
) -> None:
    base = live_server.url
    name = f"dash-{uuid.uuid4().hex[:6]}"

    page = new_page(chromium)
    sign_in(page, base, people["member"])
    shoot(page, shots, "overview")
    page.goto(f"{base}/servers/")
    expect(page.get_by_text("No servers yet")).to_be_visible()
    shoot(page, shots, "servers-empty")

    # launch from the form
    page.get_by_role("link", name=re.compile("Launch")).first.click()
    page.fill("#id_name", name)
    choose(page, "#id_flavor", "m1.nano")
    choose(page, "#id_image", "tinyos")
    shoot(page, shots, "launch")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/servers/[0-9a-f-]{36}/"))
    server_url = page.url.split("?", 1)[0]
    # a mark that only this very document carries: gone if the page were reloaded
    page.evaluate("() => { window.__notReloaded = true; }")
    expect(status(page)).to_have_text("ACTIVE", timeout=BOOT_MS)
    assert page.evaluate("() => window.__notReloaded === true"), "the page was reloaded"
    shoot(page, shots, "server-overview")

    # the console tab: the guest's screen through the proxy
    page.get_by_role("link", name="Console").click()
    frame_element = page.wait_for_selector("iframe.console-frame", timeout=STATE_MS)
    frame = frame_element.content_frame()
    assert frame is not None
    frame.wait_for_selector('body[data-state="connected"]', state="attached", timeout=60_000)
    lit = wait_until(
        lambda: (n := frame.evaluate(CANVAS_LIT_JS)) >= MIN_LIT_PIXELS and n,
        timeout=120,
        interval=0.5,
        what="the guest's screen in the console tab",
    )
    logger.info("console canvas: %s lit pixels", lit)
    shoot(page, shots, "server-console")

    # the log tab follows the guest's boot
    page.get_by_role("link", name="Log").click()
    expect(page.locator("#tab-log")).to_contain_text("login:", timeout=STATE_MS)
    shoot(page, shots, "server-log")

    # stop and start, without a reload between
    page.goto(server_url)
    page.get_by_role("button", name="Stop").click()
    expect(status(page)).to_have_text("SHUTOFF", timeout=STATE_MS)
    page.get_by_role("button", name="Start").click()
    expect(status(page)).to_have_text("ACTIVE", timeout=STATE_MS)
    page.get_by_role("link", name="Actions").click()
    expect(page.locator("#tab-actions")).to_contain_text("stop")
    expect(page.locator("#tab-actions")).to_contain_text("start")
    shoot(page, shots, "server-actions")

    # the servers list, live as well
    page.goto(f"{base}/servers/")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    shoot(page, shots, "servers")
    for path, label in [
        ("/flavors/", "flavors"),
        ("/images/", "images"),
        ("/key-pairs/", "key-pairs"),
    ]:
        page.goto(f"{base}{path}")
        shoot(page, shots, label)

    # a reader of the project: the server, no buttons, and a refused post
    watcher = new_page(chromium)
    sign_in(watcher, base, people["reader"])
    watcher.goto(server_url)
    expect(status(watcher)).to_have_text("ACTIVE")
    assert watcher.locator(".server-actions button, form[action$='/action/'] button").count() == 0
    token = watcher.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    refused = watcher.request.post(
        f"{server_url}action/",
        form={"action": "stop", "next": "/servers/", "csrfmiddlewaretoken": token or ""},
        headers={"Referer": server_url},
    )
    assert refused.status == 403, refused.text()
    shoot(watcher, shots, "server-as-reader")
    watcher.close()

    # the fleet pages, as an admin sees them
    fleet = new_page(chromium)
    sign_in(fleet, base, people["admin"])
    for path, label in [
        ("/hypervisors/", "hypervisors"),
        ("/compute-services/", "compute-services"),
        ("/aggregates/", "aggregates"),
    ]:
        fleet.goto(f"{base}{path}")
        expect(fleet.locator("#main h1")).to_be_visible()
        shoot(fleet, shots, label)
    fleet.close()

    # delete, with the confirmation accepted: the server leaves the list without a reload
    page.goto(server_url)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/servers/(\?.*)?$"))
    page.evaluate("() => { window.__notReloaded = true; }")
    expect(page.get_by_role("link", name=name)).to_have_count(0, timeout=STATE_MS)
    assert page.evaluate("() => window.__notReloaded === true"), "the page was reloaded"
    page.close()

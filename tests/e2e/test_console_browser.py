"""End to end: a real guest's screen in a real browser, through the real console proxy.

Boots tinyos under libvirt/QEMU (VNC on 127.0.0.1, autoport), stores a Server whose console
is that VNC port (what the conductor stores from the host's report), makes a token with the
consoles service, runs ``manage.py consoleproxy`` and opens the console URL in headless
Chromium (Debian's, driven by Playwright). It waits for the noVNC canvas to show the guest's
text console, types a command on the guest's VGA console and finds its output on the guest's
serial log. Screenshots are kept in the test's tmp directory.

Run under the machine's VM lock: ``flock /tmp/cc-vm.lock pytest -m "vm and browser" ...``.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import libvirt
import pytest
from playwright.sync_api import Page, sync_playwright

from apps.consoles import services
from apps.servers.models import Server
from tests.conftest import Caller
from tests.consoles.conftest import (  # noqa: F401 - fixtures, used by name
    ConsoleProxy,
    caller_context,
    console_proxy,
    make_console_server,
)
from tests.e2e.guest_helpers import LOGIN_RE, Guest, booted_guest, build_image, wait_for_serial
from tests.harness import wait_until

logger = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.vm,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

LIBVIRT_URI = "qemu:///system"
CHROMIUM = "/usr/bin/chromium"
# HOST-NOTES.md: without the background-networking flags Chromium stalls on refused
# connections; the sandbox needs user namespaces this machine does not give root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOOT_TIMEOUT_S = 120
# The guest's 720x400 text console shows boot messages: many thousand lit pixels. A blank or
# still-loading canvas has none.
MIN_LIT_PIXELS = 2000

# US keyboard: the unshifted key that gives each shifted character. noVNC sends QEMU the
# physical key (extended key events), so Shift must really be held for these.
SHIFTED_KEYS = {
    "!": "Digit1",
    "@": "Digit2",
    "#": "Digit3",
    "$": "Digit4",
    "%": "Digit5",
    "^": "Digit6",
    "&": "Digit7",
    "*": "Digit8",
    "(": "Digit9",
    ")": "Digit0",
    "_": "Minus",
    "+": "Equal",
    "{": "BracketLeft",
    "}": "BracketRight",
    "|": "Backslash",
    ":": "Semicolon",
    '"': "Quote",
    "<": "Comma",
    ">": "Period",
    "?": "Slash",
    "~": "Backquote",
}

# Counts the canvas pixels that are not black (and a few distinct colours) inside the page.
CANVAS_STATS_JS = """
() => {
  const canvas = document.querySelector('#screen canvas');
  if (!canvas || !canvas.width || !canvas.height) return {width: 0, height: 0, lit: 0, colours: 0};
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let lit = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    if (rgb !== 0) lit++;
    if (colours.size < 64) colours.add(rgb);
  }
  return {width: canvas.width, height: canvas.height, lit, colours: colours.size};
}
"""


@pytest.fixture(scope="module")
def guest_image() -> Path:
    return build_image()


@pytest.fixture(scope="module")
def libvirt_conn() -> Iterator[libvirt.virConnect]:
    try:
        conn = libvirt.open(LIBVIRT_URI)
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd is not reachable at {LIBVIRT_URI} (start it first): {exc}")
    yield conn
    conn.close()


@pytest.fixture
def tinyos_guest(guest_image: Path, libvirt_conn: libvirt.virConnect) -> Iterator[Guest]:
    """A tinyos guest at its login line; destroyed and removed even if the test fails."""
    with booted_guest(
        libvirt_conn, guest_image, hostname=f"console-{uuid.uuid4().hex[:8]}"
    ) as guest:
        wait_for_serial(guest.serial_log, LOGIN_RE, timeout=BOOT_TIMEOUT_S)
        yield guest


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A page of a headless Chromium that is closed whatever happens."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 700})
            yield page
        finally:
            browser.close()


def type_text(page: Page, text: str) -> None:
    """Type `text` key by key as a US keyboard would, holding Shift where it must be held."""
    for char in text:
        if char in SHIFTED_KEYS:
            page.keyboard.press(f"Shift+{SHIFTED_KEYS[char]}")
        elif char.isupper():
            page.keyboard.press(f"Shift+Key{char}")
        elif char == " ":
            page.keyboard.press("Space")
        else:
            page.keyboard.press(char)


def canvas_stats(page: Page) -> dict[str, Any]:
    return page.evaluate(CANVAS_STATS_JS)


def test_console_page_shows_the_guest_screen_and_types_into_it(
    console_proxy: ConsoleProxy,  # noqa: F811 - the imported fixture
    make_console_server: Callable[..., Server],  # noqa: F811 - the imported fixture
    member: Caller,
    tinyos_guest: Guest,
    settings: Any,
    tmp_path: Path,
) -> None:
    # given: the guest's console as its host would report it, and a token for it
    settings.COMPUTECLOUD = {"CONSOLE_PROXY_URL": console_proxy.url}
    server = make_console_server(
        member.project, console={"host": "127.0.0.1", "port": tinyos_guest.vnc_port()}
    )
    url = services.get_remote_console(
        context=caller_context(member), server=server, protocol="vnc", console_type="novnc"
    )
    marker = uuid.uuid4().hex[:12]
    connected_png = tmp_path / "console-connected.png"
    typed_png = tmp_path / "console-after-typing.png"

    with chromium_page() as page:
        # when: the page opens
        opened = time.monotonic()
        page.goto(url)
        # A selector, not wait_for_function: the page's CSP forbids eval, as it should.
        page.wait_for_selector('body[data-state="connected"]', state="attached", timeout=30_000)
        try:
            stats = wait_until(
                lambda: (s := canvas_stats(page))["lit"] >= MIN_LIT_PIXELS and s,
                timeout=30,
                interval=0.1,
                what="the guest's screen on the noVNC canvas",
            )
        finally:
            page.screenshot(path=connected_png)
        drawn_s = time.monotonic() - opened
        logger.info(
            "console page open → guest screen drawn: %.2f s (%s); screenshot %s",
            drawn_s,
            stats,
            connected_png,
        )

        # then: the guest's text console is on the canvas, scaled into the page
        assert stats["colours"] >= 2, f"blank console, see {connected_png}"
        assert page.locator("#status").inner_text().startswith("Connected")
        assert page.locator("#ctrl-alt-del").is_enabled()

        # when: a command is typed on the guest's VGA console
        page.locator("#screen canvas").click()
        type_text(page, f"echo CONSOLE-$((6*7))-{marker} > /dev/ttyS0")
        page.keyboard.press("Enter")

        # then: the guest ran it (the output, not the typed text, reaches the serial port)
        try:
            wait_for_serial(tinyos_guest.serial_log, rf"CONSOLE-42-{marker}", timeout=60)
        except TimeoutError as exc:
            page.screenshot(path=typed_png)
            raise AssertionError(
                f"typed command did not run; console screenshot {typed_png}"
            ) from exc
        page.screenshot(path=typed_png)

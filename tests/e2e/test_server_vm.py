"""Real virtual machines through the whole stack: API → conductor → scheduler → a compute
worker on qemu:///system (TCG) → the tinyos guest; then its console in a real browser.

One QEMU compute host serves this module; the test hypervisor hosts of the session are
disabled through os-services for each test, so everything here lands on real QEMU.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from tests.cloud import Cloud
from tests.consoles.conftest import ConsoleProxy, start_console_proxy
from tests.e2e.test_console_browser import MIN_LIT_PIXELS, canvas_stats, chromium_page, type_text
from tests.harness import wait_until

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.vm, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
BOOT_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def conn() -> Iterator[libvirt.virConnect]:
    connection = libvirt.open("qemu:///system")
    yield connection
    connection.close()


def console_output(client: Any, server_id: str) -> str:
    response = client.post(
        f"/compute/v2.1/servers/{server_id}/action", {"os-getConsoleOutput": {}}, format="json"
    )
    return response.json().get("output", "") if response.status_code == 200 else ""


def wait_console(client: Any, server_id: str, text: str, *, count: int = 1) -> str:
    return wait_until(
        lambda: (out := console_output(client, server_id)).count(text) >= count and out,
        timeout=BOOT_TIMEOUT,
        interval=1.0,
        what=f"{text!r} x{count} in the console of {server_id}",
    )


def create(client: Any, image_id: str, name: str, flavor: str = "0", **extra: Any) -> str:
    body = {
        "server": {
            "name": name,
            "imageRef": image_id,
            "flavorRef": flavor,
            "networks": "none",
            **extra,
        }
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def action(client: Any, server_id: str, body: dict[str, Any], expect: int = 202) -> Any:
    response = client.post(f"/compute/v2.1/servers/{server_id}/action", body, format="json", **V)
    assert response.status_code == expect, response.content
    return response


def domain_memory_kib(conn: libvirt.virConnect, server_id: str) -> int:
    xml = conn.lookupByName(f"instance-{server_id}").XMLDesc(0)
    return int(ET.fromstring(xml).findtext("memory") or 0)  # noqa: S314 - libvirt's own XML


def test_tinyos_server_life_on_real_qemu(qemu_cloud: Cloud, admin: Any, conn: Any) -> None:
    client = admin.client
    marker = f"USERDATA-{uuid.uuid4().hex[:10]}"
    user_data = base64.b64encode(f"#!/bin/sh\necho {marker}\n".encode()).decode()

    # boot with user data: the marker reaches os-getConsoleOutput
    started = time.monotonic()
    server_id = create(client, qemu_cloud.image_id, "e2e-vm", user_data=user_data)
    qemu_cloud.wait_for_server(client, server_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    active_s = time.monotonic() - started
    wait_console(client, server_id, marker)
    wait_console(client, server_id, "login:")
    logger.info("POST→ACTIVE %.1f s, POST→login %.1f s", active_s, time.monotonic() - started)

    # hard reboot: a second boot, a second login line
    action(client, server_id, {"reboot": {"type": "HARD"}})
    qemu_cloud.wait_for_server(client, server_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    wait_console(client, server_id, "tinyos login:", count=2)

    # stop and start
    action(client, server_id, {"os-stop": None})
    stopped = qemu_cloud.wait_for_server(client, server_id, {"SHUTOFF"}, timeout=BOOT_TIMEOUT)
    assert stopped["OS-EXT-STS:power_state"] == 4
    assert conn.lookupByName(f"instance-{server_id}").state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    action(client, server_id, {"os-start": None})
    qemu_cloud.wait_for_server(client, server_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    wait_console(client, server_id, "tinyos login:", count=3)

    # snapshot, and the snapshot boots
    image_id = action(client, server_id, {"createImage": {"name": "e2e-snap"}}).json()["image_id"]
    qemu_cloud.wait_for_server(client, server_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    wait_until(
        lambda: client.get(f"/image/v2/images/{image_id}").json().get("status") == "active",
        timeout=120,
        interval=0.5,
        what="the snapshot image to be active",
    )
    clone_id = create(client, image_id, "e2e-clone")
    qemu_cloud.wait_for_server(client, clone_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    wait_console(client, clone_id, "login:")
    assert client.delete(f"/compute/v2.1/servers/{clone_id}").status_code == 204
    qemu_cloud.wait_for_server(client, clone_id, {"DELETED"}, timeout=BOOT_TIMEOUT)

    # resize to a bigger flavor and confirm: the domain's memory changes
    assert domain_memory_kib(conn, server_id) == 128 * 1024
    action(client, server_id, {"resize": {"flavorRef": "1"}})
    resized = qemu_cloud.wait_for_server(client, server_id, {"VERIFY_RESIZE"}, timeout=BOOT_TIMEOUT)
    assert resized["flavor"]["ram"] == 512
    assert domain_memory_kib(conn, server_id) == 512 * 1024
    action(client, server_id, {"confirmResize": None}, expect=204)
    qemu_cloud.wait_for_server(client, server_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)

    # delete: domain and files gone
    instance_dirs = list(qemu_cloud.processes.workdir.glob(f"*/instances/{server_id}*"))
    assert instance_dirs
    assert client.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
    qemu_cloud.wait_for_server(client, server_id, {"DELETED"}, timeout=BOOT_TIMEOUT)
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(f"instance-{server_id}")
    assert not [p for p in instance_dirs if p.exists()]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ConsoleProxy]:
    running = start_console_proxy(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.browser
def test_console_from_the_api_in_a_browser(
    qemu_cloud: Cloud, admin: Any, proxy: ConsoleProxy, settings: Any, tmp_path: Path
) -> None:
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "CONSOLE_PROXY_URL": proxy.url}
    client = admin.client
    server_id = create(client, qemu_cloud.image_id, "e2e-console")
    qemu_cloud.wait_for_server(client, server_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    wait_console(client, server_id, "login:")

    # the API hands out a console URL with a token
    response = client.post(
        f"/compute/v2.1/servers/{server_id}/remote-consoles",
        {"remote_console": {"protocol": "vnc", "type": "novnc"}},
        format="json",
        **V,
    )
    assert response.status_code == 200, response.content
    url = response.json()["remote_console"]["url"]
    assert url.startswith(proxy.url)

    marker = uuid.uuid4().hex[:12]
    screenshot = tmp_path / "console.png"
    with chromium_page() as page:
        page.goto(url)
        page.wait_for_selector('body[data-state="connected"]', state="attached", timeout=60_000)
        stats = wait_until(
            lambda: (s := canvas_stats(page))["lit"] >= MIN_LIT_PIXELS and s,
            timeout=60,
            interval=0.2,
            what="the guest's screen on the canvas",
        )
        page.screenshot(path=screenshot)
        assert stats["colours"] >= 2, f"blank console: {screenshot}"
        page.locator("#screen canvas").click()
        type_text(page, f"echo TYPED-$((6*7))-{marker} > /dev/ttyS0")
        page.keyboard.press("Enter")
    # The guest ran what was typed: its output is in os-getConsoleOutput. (Read after the
    # browser closed: Playwright's sync API runs an event loop, where Django refuses the ORM.)
    wait_console(client, server_id, f"TYPED-42-{marker}")
    assert client.delete(f"/compute/v2.1/servers/{server_id}").status_code == 204
    qemu_cloud.wait_for_server(client, server_id, {"DELETED"}, timeout=BOOT_TIMEOUT)

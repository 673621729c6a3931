"""End-to-end check of the tinyos guest image (tools/guest_image) under real libvirt/QEMU.

Boots one guest on qemu:///system (TCG) with a config drive and checks, through the
serial log, that it reaches its login line, takes the hostname from meta_data.json and
runs user_data. Needs libvirtd and virtlogd running as root (scripts/services.sh).
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest

from tests.e2e.guest_helpers import (
    LOGIN_RE,
    Guest,
    booted_guest,
    build_image,
    hostname_re,
    wait_for_serial,
)

logger = logging.getLogger(__name__)

LIBVIRT_URI = "qemu:///system"
BOOT_TIMEOUT_S = 120


@dataclass(frozen=True)
class GuestConfig:
    hostname: str
    user_data: str
    # What user_data prints; "$((6 * 7))" in the script proves a shell ran it.
    marker: str


@pytest.fixture(scope="session")
def guest_image() -> Path:
    """The tinyos image, built by tools/guest_image/build.sh on first use (cached)."""
    return build_image()


@pytest.fixture(scope="session")
def libvirt_conn() -> Iterator[libvirt.virConnect]:
    try:
        conn = libvirt.open(LIBVIRT_URI)
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd is not reachable at {LIBVIRT_URI} (start it first): {exc}")
    yield conn
    conn.close()


@pytest.fixture
def guest_config() -> GuestConfig:
    token = uuid.uuid4().hex[:12]
    return GuestConfig(
        hostname=f"e2e-{token[:8]}",
        user_data=f'#!/bin/sh\necho "e2e-marker-$((6 * 7))-{token}"\n',
        marker=f"e2e-marker-42-{token}",
    )


@pytest.fixture
def tinyos_guest(
    guest_image: Path, libvirt_conn: libvirt.virConnect, guest_config: GuestConfig
) -> Iterator[Guest]:
    """A running tinyos guest; destroyed, undefined and deleted even if the test fails."""
    with booted_guest(
        libvirt_conn,
        guest_image,
        hostname=guest_config.hostname,
        user_data=guest_config.user_data,
    ) as guest:
        yield guest


@pytest.mark.vm
def test_tinyos_boots_and_applies_config_drive(
    tinyos_guest: Guest,
    guest_config: GuestConfig,
    record_property: Callable[[str, object], None],
) -> None:
    # given: a guest started with a config drive (fixture)
    log = tinyos_guest.serial_log
    deadline = tinyos_guest.started_at + BOOT_TIMEOUT_S

    # when: it boots
    login = wait_for_serial(log, LOGIN_RE, timeout=deadline - time.monotonic())
    boot_s = time.monotonic() - tinyos_guest.started_at
    named = wait_for_serial(
        log, hostname_re(guest_config.hostname), timeout=deadline - time.monotonic()
    )
    ran = wait_for_serial(log, rf"^{guest_config.marker}\r?$", timeout=deadline - time.monotonic())
    record_property("boot_to_login_s", round(boot_s, 2))
    logger.info("%s printed its login line %.2f s after start", tinyos_guest.name, boot_s)

    # then
    assert login.startswith("tinyos login:")
    assert named.rstrip() == f"tinyos hostname: {guest_config.hostname}"
    assert ran.rstrip() == guest_config.marker
    assert tinyos_guest.vnc_port() >= 5900
    assert tinyos_guest.domain.state()[0] == libvirt.VIR_DOMAIN_RUNNING

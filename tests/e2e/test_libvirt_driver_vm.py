"""LibvirtDriver end to end on the real qemu:///system with the tinyos guest.

One guest is reused across the steps of its life (spawn, reboots, power, pause, suspend,
VNC, live snapshot, resize to a "second host"), because every boot costs seconds of TCG on
two shared cores. The second host is a second LibvirtDriver with its own instances and
image-cache directories: the hosts share no files, only the hypervisor. The image is served
over a real HTTP server on 127.0.0.1, with real checksums.

Run it alone on the machine:
``flock /tmp/cc-vm.lock pytest -m vm tests/e2e/test_libvirt_driver_vm.py``.
"""

import base64
import dataclasses
import logging
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import libvirt
import pytest

from computecloud.wire import tap_name
from tests.e2e.guest_helpers import (
    LOGIN_RE,
    build_image,
    hostname_re,
    make_instance_dir,
    remove_instance_dir,
)
from tests.redis_env import with_db
from tests.workers.conftest import ImageServer
from workers.compute.config import ComputeConfig
from workers.virt.driver import ImageSource, InstanceSpec, PowerState, VifSpec
from workers.virt.libvirt.config import GuestConfig
from workers.virt.libvirt.driver import LibvirtDriver

logger = logging.getLogger(__name__)

LIBVIRT_URI = "qemu:///system"
BOOT_TIMEOUT_S = 120
POLL_S = 0.2
T = TypeVar("T")


@dataclasses.dataclass
class Hosts:
    """Two drivers on one hypervisor, standing for two compute hosts, and our guests."""

    a: LibvirtDriver
    b: LibvirtDriver
    image_server: ImageServer
    spawned: list[tuple[LibvirtDriver, str]]


def _config(root: Path, name: str, control_plane_url: str) -> ComputeConfig:
    return ComputeConfig(
        host=name,
        broker_url=with_db(os.environ["REDIS_URL"], 7),
        libvirt_uri=LIBVIRT_URI,
        virt_type=os.environ.get("VIRT_TYPE", "qemu"),
        instances_path=root / name / "instances",
        image_cache_path=root / name / "image-cache",
        vnc_listen="127.0.0.1",
        report_interval=10,
        clean_shutdown_timeout=30,
        console_log_max_bytes=256 * 1024,
        control_plane_url=control_plane_url,
    )


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    """Two initialised drivers under a fresh 0755 directory (QEMU must reach the files);
    every guest a test spawned is destroyed and the directory removed, even on failure."""
    root = make_instance_dir(f"virt-e2e-{uuid.uuid4().hex[:12]}")
    served = root / "served"
    served.mkdir()
    server = ImageServer(served)  # bound now: its URL is the hosts' control plane
    a = LibvirtDriver(_config(root, "host-a", server.base_url))
    b = LibvirtDriver(_config(root, "host-b", server.base_url))
    spawned: list[tuple[LibvirtDriver, str]] = []
    try:
        a.init_host()
        b.init_host()
        with server:
            yield Hosts(a=a, b=b, image_server=server, spawned=spawned)
    finally:
        for drv, instance_uuid in spawned:
            try:
                drv.destroy(instance_uuid)
            except Exception:
                logger.exception("cleanup of %s failed", instance_uuid)
        a.cleanup_host()
        b.cleanup_host()
        remove_instance_dir(root)


@pytest.fixture(scope="module")
def tinyos() -> Path:
    return build_image()


def serve(hosts: Hosts, path: Path, name: str) -> ImageSource:
    """Publish a qcow2 on the test's HTTP server as an image with its real checksums."""
    return hosts.image_server.serve(path, as_name=name).source(image_id=str(uuid.uuid4()))


def make_spec(hostname: str, user_data: str | None = None, **changes: Any) -> InstanceSpec:
    instance_uuid = str(uuid.uuid4())
    values: dict[str, Any] = {
        "uuid": instance_uuid,
        "name": hostname,
        "hostname": hostname,
        "memory_mb": 256,
        "vcpus": 1,
        "root_gb": 1,
        "flavor_name": "tiny",
        "config_drive": True,
        "user_data": base64.b64encode(user_data.encode()).decode() if user_data else None,
        "project_id": "e2e",
        "user_id": "e2e",
    }
    values.update(changes)
    return InstanceSpec(**values)


def wait_for_console(
    drv: LibvirtDriver, instance_uuid: str, pattern: re.Pattern[str], *, count: int = 1
) -> float:
    """Poll get_console_output until ``pattern`` has matched ``count`` times; return the
    seconds it took. The log keeps earlier boots, so a reboot waits for one more login."""
    started = time.monotonic()
    deadline = started + BOOT_TIMEOUT_S
    while True:
        text = drv.get_console_output(instance_uuid)
        if len(pattern.findall(text)) >= count:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{pattern.pattern!r} x{count} not on the console of {instance_uuid} after "
                f"{BOOT_TIMEOUT_S} s; tail:\n{text[-2000:]}"
            )
        time.sleep(POLL_S)  # poll interval, not a wait for the guest


def timed(figures: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    started = time.monotonic()
    result = fn()
    figures[name] = round(time.monotonic() - started, 2)
    return result


@pytest.mark.vm
def test_guest_life_on_real_qemu(
    hosts: Hosts, tinyos: Path, record_property: Callable[[str, object], None]
) -> None:
    a, b = hosts.a, hosts.b
    figures: dict[str, float] = {}
    image = serve(hosts, tinyos, "tinyos.qcow2")
    token = uuid.uuid4().hex[:12]
    marker = f"virt-e2e-{token}"
    # "$((6 * 7))" proves a shell ran the script rather than the text being echoed back.
    instance = make_spec(f"vm-{token[:8]}", f'#!/bin/sh\necho "{marker}-$((6 * 7))"\n')
    marker_re = re.compile(rf"^{marker}-42\r?$", re.MULTILINE)

    # --- spawn: user data runs, the hostname comes from the config drive -------------------------
    hosts.spawned.append((a, instance.uuid))
    timed(figures, "spawn_call_s", lambda: a.spawn(instance, image))
    figures["spawn_to_user_data_s"] = wait_for_console(a, instance.uuid, marker_re)
    # Counted from the same moment: the login line follows the user data's output.
    figures["spawn_to_login_s"] = figures["spawn_to_user_data_s"] + wait_for_console(
        a, instance.uuid, LOGIN_RE
    )
    assert hostname_re(instance.hostname).search(a.get_console_output(instance.uuid))
    assert a.get_power_state(instance.uuid) == PowerState.RUNNING
    host, port = a.get_vnc_console(instance.uuid)
    assert (host, port >= 5900) == ("127.0.0.1", True)
    assert a.get_console_output(instance.uuid, max_lines=1).count("\n") <= 1

    # --- reboots: the log keeps every boot, so each one adds a login line ------------------------
    timed(figures, "hard_reboot_call_s", lambda: a.reboot(instance.uuid, hard=True))
    figures["hard_reboot_to_login_s"] = wait_for_console(a, instance.uuid, LOGIN_RE, count=2)
    timed(figures, "soft_reboot_call_s", lambda: a.reboot(instance.uuid, hard=False))
    figures["soft_reboot_to_login_s"] = wait_for_console(a, instance.uuid, LOGIN_RE, count=3)

    # --- power off and on ------------------------------------------------------------------------
    timed(figures, "power_off_clean_s", lambda: a.power_off(instance.uuid))
    assert a.get_power_state(instance.uuid) == PowerState.SHUTDOWN
    a.power_on(instance.uuid)
    figures["power_on_to_login_s"] = wait_for_console(a, instance.uuid, LOGIN_RE, count=4)

    # --- pause, suspend
    a.pause(instance.uuid)
    assert a.get_power_state(instance.uuid) == PowerState.PAUSED
    a.unpause(instance.uuid)
    assert a.get_power_state(instance.uuid) == PowerState.RUNNING
    timed(figures, "suspend_s", lambda: a.suspend(instance.uuid))
    assert a.get_power_state(instance.uuid) == PowerState.SUSPENDED
    timed(figures, "resume_s", lambda: a.resume(instance.uuid))
    assert a.get_power_state(instance.uuid) == PowerState.RUNNING

    # --- live snapshot: it boots as a new guest
    snap_path = a.config.instances_path.parent / "snapshot.qcow2"
    info = timed(figures, "snapshot_s", lambda: a.snapshot(instance.uuid, snap_path))
    assert a.get_power_state(instance.uuid) == PowerState.RUNNING
    snapshot_image = serve(hosts, snap_path, "snapshot.qcow2")
    assert (snapshot_image.checksum, snapshot_image.os_hash_value, snapshot_image.size) == (
        info.checksum,
        info.os_hash_value,
        info.size,
    )
    a.power_off(instance.uuid)  # two TCG guests at once would halve each one's speed
    clone = make_spec(f"clone-{token[:8]}")
    hosts.spawned.append((a, clone.uuid))
    a.spawn(clone, snapshot_image)
    figures["snapshot_spawn_to_login_s"] = wait_for_console(a, clone.uuid, LOGIN_RE)
    assert hostname_re(clone.hostname).search(a.get_console_output(clone.uuid))
    a.destroy(clone.uuid)

    # --- resize to the other host with more memory and a bigger disk
    transfer_file = timed(
        figures, "migrate_disk_and_power_off_s", lambda: a.migrate_disk_and_power_off(instance.uuid)
    )
    assert not a.instance_exists(instance.uuid)
    # As between hosts that share nothing: the disk travels as a transfer image over HTTP.
    transfer = serve(hosts, transfer_file, "transfer.qcow2")
    resized = dataclasses.replace(instance, memory_mb=384, root_gb=2, flavor_name="bigger")
    hosts.spawned.append((b, instance.uuid))
    timed(
        figures,
        "finish_migration_s",
        lambda: b.finish_migration(resized, transfer, image, power_on=True),
    )
    figures["finish_migration_to_login_s"] = wait_for_console(b, instance.uuid, LOGIN_RE)
    domain = GuestConfig.from_xml(b.host.lookup(instance.uuid).xml())
    assert (domain.memory_mb, domain.vcpus) == (384, 1)
    assert b.get_power_state(instance.uuid) == PowerState.RUNNING
    a.confirm_migration(instance.uuid)
    assert list(a.config.instances_path.iterdir()) == []

    # --- destroy: domain and files gone
    timed(figures, "destroy_s", lambda: b.destroy(instance.uuid))
    conn = libvirt.open(LIBVIRT_URI)
    try:
        with pytest.raises(libvirt.libvirtError):
            conn.lookupByUUIDString(instance.uuid)
    finally:
        conn.close()
    assert list(b.config.instances_path.iterdir()) == []

    for name, value in figures.items():
        record_property(name, round(value, 2))
    logger.info("figures: %s", figures)


def _bridge_ports(bridge: str) -> set[str]:
    return set(os.listdir(f"/sys/class/net/{bridge}/brif"))


@pytest.mark.vm
def test_interfaces_hot_plug_on_real_qemu(hosts: Hosts, tinyos: Path) -> None:
    """A NIC attached to a running guest shows as its named tap on the bridge and stays in
    the definition; detached once the guest is up, both are gone."""
    token = uuid.uuid4().hex[:8]
    bridge = f"cce2e{token}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        instance = make_spec(f"nic-{token}")
        hosts.spawned.append((hosts.a, instance.uuid))
        hosts.a.spawn(instance, serve(hosts, tinyos, "tinyos.qcow2"))
        port_id = str(uuid.uuid4())
        vif = VifSpec(id=port_id, mac="fa:16:3e:00:" + token[:2] + ":" + token[2:4], bridge=bridge)

        hosts.a.attach_interface(instance.uuid, vif)
        assert _bridge_ports(bridge) == {tap_name(port_id)}
        guest = hosts.a.host.find(instance.uuid)
        assert guest is not None
        assert [i.target_dev for i in guest.config(inactive=True).interfaces] == [tap_name(port_id)]

        # A guest still booting acknowledges a detach and keeps the NIC: wait until it is up.
        wait_for_console(hosts.a, instance.uuid, LOGIN_RE)
        hosts.a.detach_interface(instance.uuid, port_id)
        assert _bridge_ports(bridge) == set()
        assert guest.config().interfaces == []
        assert guest.config(inactive=True).interfaces == []
    finally:
        subprocess.run(["ip", "link", "del", bridge], check=False)

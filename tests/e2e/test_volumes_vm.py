"""Volumes on a real QEMU guest: boot from a volume, hot-plug, grow and unplug another.

The compute manager as a worker builds it (the libvirt driver on qemu:///system, the storage
agent with qcow2 files), its messages read back from an in-memory broker. One tinyos guest
boots from a volume the build writes from the image, and its user data watches the guest's
disks: every change of /sys/block/vd* (a disk, its size) is printed on the serial console
with the disk's serial, so the test sees what the guest sees.

Run it alone on the machine: ``flock /tmp/cc-vm.lock pytest -m vm tests/e2e/test_volumes_vm.py``.
"""

import base64
import logging
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from computecloud import queues
from computecloud.messages import from_compute
from tests.e2e.guest_helpers import LOGIN_RE, build_image, make_instance_dir, remove_instance_dir
from tests.workers.conftest import ImageServer, make_config
from workers.compute.manager import ComputeManager
from workers.network.agent import NetworkAgent
from workers.storage.agent import StorageAgent
from workers.storage.commands import GiB, virtual_size
from workers.storage.config import StorageConfig
from workers.virt.driver import ImageSource
from workers.virt.libvirt.config import GuestConfig
from workers.virt.libvirt.driver import LibvirtDriver

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.vm, pytest.mark.slow]

BOOT_TIMEOUT_S = 120
HOTPLUG_TIMEOUT_S = 30
# Short, so that a guest that cannot let go (paused) fails the detach quickly.
DETACH_TIMEOUT_S = 8
# Prints "DISK+ vdX:<sectors> <serial>" for each disk (or size) that appears, "DISK- ..." for
# each that goes, once a second, from a loop the script leaves running in the background
# (its lines may follow a shell prompt on the console: matched without "^").
WATCH_DISKS = r"""#!/bin/sh
(
seen=""
while true; do
  now=""
  for d in /sys/block/vd*; do
    [ -e "$d" ] || continue
    key="${d##*/}:$(cat "$d/size")"
    now="$now $key"
    case " $seen " in *" $key "*) ;; *) echo "DISK+ $key $(cat "$d/serial" 2>/dev/null)";; esac
  done
  for key in $seen; do
    case " $now " in *" $key "*) ;; *) echo "DISK- $key";; esac
  done
  seen="$now"
  sleep 1
done
) >/dev/console 2>&1 &
"""
SECTORS_PER_GIB = GiB // 512


class Host:
    """The compute manager under test, its driver, the image it serves, what it published."""

    def __init__(self, manager: ComputeManager, driver: LibvirtDriver, image: ImageSource) -> None:
        self.manager, self.driver, self.image = manager, driver, image

    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        with self.manager.app.connection_for_read() as connection:
            queue = connection.SimpleQueue(queues.CONDUCTOR_QUEUE)
            while queue.qsize():
                message = queue.get(timeout=1)
                found.append((message.headers["task"], message.payload[1]))
                message.ack()
            queue.close()
        return [(t, k) for t, k in found if t != from_compute.UPDATE_INVENTORY]

    def console(self, instance_uuid: str) -> str:
        return self.driver.get_console_output(instance_uuid)

    def wait_console(self, instance_uuid: str, pattern: str, timeout: float) -> float:
        """Seconds until `pattern` (a regex) is on the guest's console."""
        started = time.monotonic()
        regex = re.compile(pattern, re.MULTILINE)
        while not regex.search(self.console(instance_uuid)):
            if time.monotonic() - started > timeout:
                tail = self.console(instance_uuid)[-2000:]
                raise AssertionError(f"{pattern!r} not on the console after {timeout} s:\n{tail}")
            time.sleep(0.2)  # poll interval, not a wait for the guest
        return time.monotonic() - started


def merged(base: Any, **changes: Any) -> Any:
    return {**base, **changes}


@pytest.fixture
def host() -> Iterator[Host]:
    """A compute host under a fresh 0755 directory (QEMU must reach the files); its guests
    are destroyed and every file removed at the end, even on failure."""
    root = make_instance_dir(f"volumes-e2e-{uuid.uuid4().hex[:12]}")
    served = root / "served"
    served.mkdir()
    with ImageServer(served) as server:
        config = make_config(
            root,
            libvirt_uri="qemu:///system",
            control_plane_url=server.base_url,
            clean_shutdown_timeout=30,
            volume_detach_timeout=DETACH_TIMEOUT_S,
        )
        storage = StorageAgent(StorageConfig(backend="file", path=root / "volumes"))
        storage.check()
        app = Celery(f"volumes-vm-{uuid.uuid4().hex[:6]}", broker="memory://")
        app.conf.update(queues.COMMON_CONFIG)
        driver = LibvirtDriver(config)
        driver.init_host()
        before = set(driver.list_instance_uuids())
        try:
            tinyos = server.serve(build_image(), as_name="tinyos.qcow2")
            manager = ComputeManager(config, driver, app, NetworkAgent(config.network), storage)
            host = Host(manager, driver, tinyos.source(image_id=str(uuid.uuid4())))
            yield host
        finally:
            for instance_uuid in set(driver.list_instance_uuids()) - before:
                try:
                    driver.destroy(instance_uuid)
                except Exception:
                    logger.exception("cleanup of %s failed", instance_uuid)
            driver.cleanup_host()
            remove_instance_dir(root)


def test_a_guest_boots_from_a_volume_and_takes_another_live(host: Host) -> None:
    manager, driver = host.manager, host.driver
    instance_uuid, boot_id, data_id = (str(uuid.uuid4()) for _ in range(3))
    figures: dict[str, float] = {}
    build: Any = {
        "instance": {
            "uuid": instance_uuid,
            "name": "vol-e2e",
            "hostname": "vol-e2e",
            "memory_mb": 256,
            "vcpus": 1,
            "root_gb": 1,
            "config_drive": True,
            "user_data": base64.b64encode(WATCH_DISKS.encode()).decode(),
            "block_devices": [{"volume_id": boot_id, "backend": "file", "boot_index": 0}],
        },
        "image": None,
        "request_id": "req-build",
        "alternates": [],
        "volumes_to_create": [
            {
                "volume_id": boot_id,
                "size_gb": 1,
                "backend": "file",
                "request_id": "req-build",
                "image": host.image.to_payload(),
            },
            {"volume_id": data_id, "size_gb": 1, "backend": "file", "request_id": "req-build"},
        ],
    }

    # --- boot from the volume the build wrote from the image ---------------------------------
    manager.build_server(build)
    built = host.messages()
    assert [(t, k.get("ok")) for t, k in built] == [
        (from_compute.VOLUME_DONE, True),
        (from_compute.VOLUME_DONE, True),
        (from_compute.BUILD_SERVER_DONE, None),
    ], built
    figures["boot_s"] = host.wait_console(instance_uuid, LOGIN_RE.pattern, BOOT_TIMEOUT_S)
    host.wait_console(
        instance_uuid, rf"DISK\+ vda:{SECTORS_PER_GIB} {boot_id[:20]}\r?$", HOTPLUG_TIMEOUT_S
    )

    # --- hot-plug: the guest sees the disk with the volume's serial --------------------------
    attach: Any = {
        "server_uuid": instance_uuid,
        "attachment_id": "att-1",
        "request_id": "req-attach",
        "block_device": {"volume_id": data_id, "backend": "file", "device_name": None},
    }
    started = time.monotonic()
    manager.attach_volume(attach)
    figures["attach_call_s"] = time.monotonic() - started
    ((task, attached),) = host.messages()
    assert (task, attached["ok"], attached["device"]) == (
        from_compute.VOLUME_ATTACHED,
        True,
        "vdb",
    ), attached
    figures["attach_seen_s"] = host.wait_console(
        instance_uuid, rf"DISK\+ vdb:{SECTORS_PER_GIB} {data_id[:20]}\r?$", HOTPLUG_TIMEOUT_S
    )
    manager.attach_volume(attach)  # redelivered: the same device, no second disk
    ((_, again),) = host.messages()
    assert (again["ok"], again["device"]) == (True, "vdb")
    disks = GuestConfig.from_xml(driver._lookup(instance_uuid).xml()).disks
    assert [d.serial for d in disks if d.device == "disk"] == [boot_id[:20], data_id[:20]]

    # --- grow it while attached: QEMU grows the file, the guest sees the new size ------------
    manager.extend_volume(
        {
            "volume_id": data_id,
            "backend": "file",
            "size_gb": 2,
            "request_id": "req-extend",
            "server_uuid": instance_uuid,
            "device_name": "vdb",
        }
    )
    ((_, extended),) = host.messages()
    assert (extended["operation"], extended["ok"]) == ("extend", True), extended
    volume_file = Path(manager.storage.connection(data_id).path)  # type: ignore[union-attr]
    assert virtual_size(volume_file, fmt="qcow2") == 2 * GiB
    host.wait_console(
        instance_uuid, rf"DISK\+ vdb:{2 * SECTORS_PER_GIB} {data_id[:20]}\r?$", HOTPLUG_TIMEOUT_S
    )

    # --- a guest that cannot let go (paused): the detach fails, saying so -------------------
    detach: Any = {
        "server_uuid": instance_uuid,
        "volume_id": data_id,
        "attachment_id": "att-1",
        "device_name": "vdb",
        "request_id": "req-detach",
    }
    driver.pause(instance_uuid)
    started = time.monotonic()
    manager.detach_volume(detach)
    figures["detach_refused_s"] = time.monotonic() - started
    ((task, refused),) = host.messages()
    assert (task, refused["ok"]) == (from_compute.VOLUME_DETACHED, False), refused
    assert "the guest still holds vdb after 8 s" in refused["fault"]["message"]
    driver.unpause(instance_uuid)

    # --- unplug: done once the domain no longer lists it -------------------------------------
    started = time.monotonic()
    manager.detach_volume(detach)
    figures["detach_s"] = time.monotonic() - started
    ((task, detached),) = host.messages()
    assert (task, detached["ok"], detached["device"]) == (
        from_compute.VOLUME_DETACHED,
        True,
        "vdb",
    ), detached
    guest = driver._lookup(instance_uuid)
    for config in (guest.config(), guest.config(inactive=True)):
        assert [d.target_dev for d in config.disks if d.device == "disk"] == ["vda"]
    host.wait_console(instance_uuid, rf"DISK- vdb:{2 * SECTORS_PER_GIB}\r?$", HOTPLUG_TIMEOUT_S)
    manager.detach_volume(detach)  # redelivered: nothing left to do
    ((_, again),) = host.messages()
    assert again["ok"] is True

    # --- a stopped guest: the volume goes in and out of its definition -----------------------
    driver.power_off(instance_uuid, timeout=0)
    manager.attach_volume(merged(attach, attachment_id="att-2"))
    ((_, cold),) = host.messages()
    assert (cold["ok"], cold["device"]) == (True, "vdb")
    manager.detach_volume(merged(detach, attachment_id="att-2"))
    ((_, cold_out),) = host.messages()
    assert cold_out["ok"] is True
    defined = guest.config(inactive=True).disks
    assert [d.target_dev for d in defined if d.device == "disk"] == ["vda"]

    # --- a detach sent while the guest boots: ignored by it, repeated until it lets go --------
    manager.attach_volume(merged(attach, attachment_id="att-3"))
    driver.power_on(instance_uuid)
    started = time.monotonic()
    manager.detach_volume(merged(detach, attachment_id="att-3"))
    figures["detach_while_booting_s"] = time.monotonic() - started
    assert [(k["ok"], k["device"]) for _, k in host.messages()] == [(True, "vdb"), (True, "vdb")]
    for config in (guest.config(), guest.config(inactive=True)):
        assert [d.target_dev for d in config.disks if d.device == "disk"] == ["vda"]
    logger.info("volume figures: %s", {k: round(v, 2) for k, v in figures.items()})

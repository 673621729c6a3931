"""Volumes through the whole stack on real QEMU, as a user works with them: the real
``openstack`` CLI against the block-storage and compute APIs, the conductor, and a compute
worker on qemu:///system whose storage agent keeps qcow2 volumes.

- data outlives its server: a volume attached live to one guest gets a marker written by the
  guest, is detached, attached to a second guest, which reads the marker back;
- a server boots from a volume made from the tinyos image and, deleted, leaves the volume
  (``--volume`` maps it with delete_on_termination false) available for the next one.

The guests' user data prints what they see on the serial console (VOLCHECK lines), which the
test reads through the API.

Run it alone on the machine:
``flock /tmp/cc-vm.lock pytest -m vm tests/e2e/test_volumes_cloud_vm.py``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.cli import (  # noqa: F401 - fixtures
    OpenStackEnv,
    fresh_auth_state,
    make_openstack_env,
    service_roots,
)
from tests.cloud import Cloud
from tests.e2e.guest_helpers import LOGIN_RE
from tests.harness import wait_until

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.vm, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
TIMEOUT = 240.0


def writer_script(serial: str, marker: str) -> str:
    """Wait for the disk whose serial is `serial`, write `marker` at its start, say so; then
    say when the disk is gone."""
    return f"""#!/bin/sh
(
find_disk() {{
  for d in /sys/block/vd*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = "{serial}" ] && echo "${{d##*/}}" && return 0
  done
  return 1
}}
echo "VOLCHECK waiting"
until disk=$(find_disk); do sleep 1; done
printf '%s\\n' "{marker}" | dd of=/dev/$disk bs=512 conv=sync,fsync 2>/dev/null
echo "VOLCHECK wrote on $disk"
while [ -e /sys/block/$disk ]; do sleep 1; done
echo "VOLCHECK gone $disk"
) >/dev/console 2>&1 &
"""


def reader_script(serial: str) -> str:
    """Wait for the disk whose serial is `serial` and print its first line."""
    return f"""#!/bin/sh
(
echo "VOLCHECK waiting"
until [ -n "$disk" ]; do
  for d in /sys/block/vd*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = "{serial}" ] && disk="${{d##*/}}"
  done
  [ -n "$disk" ] || sleep 1
done
echo "VOLCHECK read $(dd if=/dev/$disk bs=512 count=1 2>/dev/null | head -n 1)"
) >/dev/console 2>&1 &
"""


def console(client: Any, server_id: str) -> str:
    response = client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        {"os-getConsoleOutput": {}},
        format="json",
        **V,
    )
    return response.json().get("output", "") if response.status_code == 200 else ""


def wait_console(client: Any, server_id: str, pattern: str) -> str:
    def found() -> str | None:
        match = re.search(pattern, console(client, server_id), re.MULTILINE)
        return match.group(0) if match else None

    return wait_until(found, timeout=TIMEOUT, interval=1.0, what=f"{pattern!r} on {server_id}")


def wait_volume(cli: OpenStackEnv, volume_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        shown = cli.openstack("volume", "show", volume_id)
        assert shown["status"] not in ("error", "error_deleting"), shown
        return shown if shown["status"] == status else None

    return wait_until(reached, timeout=TIMEOUT, interval=1.0, what=f"volume {status}")


def wait_server(cli: OpenStackEnv, server_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        shown = cli.openstack("server", "show", server_id)
        assert shown["status"] != "ERROR", shown.get("fault")
        return shown if shown["status"] == status else None

    return wait_until(reached, timeout=TIMEOUT, interval=1.0, what=f"server {status}")


def boot(cli: OpenStackEnv, name: str, script: str, tmp_path: Path, *source: str) -> str:
    user_data = tmp_path / f"{name}.sh"
    user_data.write_text(script)
    created = cli.openstack(
        "server",
        "create",
        "--flavor",
        "0",
        "--nic",
        "none",
        "--config-drive",
        "True",
        "--user-data",
        str(user_data),
        *source,
        name,
    )
    return str(created["id"])


@pytest.fixture
def host_log_on_failure(qemu_cloud: Cloud, qemu_host: str) -> Iterator[None]:
    """A failure's report shows what the compute worker logged last (captured at teardown:
    its log goes with its directory)."""
    yield
    logger.info(
        "compute worker %s, last lines:\n%s",
        qemu_host,
        qemu_cloud.processes.compute_worker(qemu_host).tail(80),
    )


def test_data_moves_between_guests_and_outlives_a_server_booted_from_its_volume(
    qemu_cloud: Cloud,
    member: Any,
    make_openstack_env: Callable[..., OpenStackEnv],  # noqa: F811
    tmp_path: Path,
    host_log_on_failure: None,
) -> None:
    client = member.client
    cli = make_openstack_env(role="member", project=member.project)
    suffix = uuid.uuid4().hex[:6]
    marker = f"MARKER-{uuid.uuid4().hex[:12]}"

    # A blank volume, and a first guest that writes the marker on it once it is attached.
    volume = cli.openstack("volume", "create", "--size", "1", f"data-{suffix}")
    volume_id = str(volume["id"])
    wait_volume(cli, volume_id, "available")
    serial = volume_id[:20]  # the guest sees the disk's serial cut to 20 characters
    writer = boot(
        cli,
        f"writer-{suffix}",
        writer_script(serial, marker),
        tmp_path,
        "--image",
        qemu_cloud.image_id,
    )
    wait_server(cli, writer, "ACTIVE")
    wait_console(client, writer, r"VOLCHECK waiting")

    cli.openstack_text("server", "add", "volume", writer, volume_id)
    attached = wait_volume(cli, volume_id, "in-use")
    assert [a["server_id"] for a in attached["attachments"]] == [writer]
    wait_console(client, writer, r"VOLCHECK wrote on vd[b-z]")
    listed = cli.openstack("server", "volume", "list", writer)
    assert [row["Volume ID"] for row in listed] == [volume_id]

    cli.openstack_text("server", "remove", "volume", writer, volume_id)
    detached = wait_volume(cli, volume_id, "available")
    assert detached["attachments"] == []
    wait_console(client, writer, r"VOLCHECK gone vd[b-z]")

    # A second guest reads it back.
    reader = boot(
        cli, f"reader-{suffix}", reader_script(serial), tmp_path, "--image", qemu_cloud.image_id
    )
    wait_server(cli, reader, "ACTIVE")
    wait_console(client, reader, r"VOLCHECK waiting")
    cli.openstack_text("server", "add", "volume", reader, volume_id)
    wait_volume(cli, volume_id, "in-use")
    assert wait_console(client, reader, rf"VOLCHECK read {marker}").endswith(marker)

    # Deleting the reader frees the volume (it was not marked delete_on_termination).
    cli.openstack_text("server", "delete", "--wait", reader)
    wait_volume(cli, volume_id, "available")

    # Boot from a volume written from the tinyos image.
    root = cli.openstack(
        "volume", "create", "--image", qemu_cloud.image_id, "--size", "1", f"root-{suffix}"
    )
    root_id = str(root["id"])
    made = wait_volume(cli, root_id, "available")
    assert str(made["bootable"]).lower() == "true"
    booted = boot(
        cli, f"fromvol-{suffix}", "#!/bin/sh\necho VOLCHECK booted\n", tmp_path, "--volume", root_id
    )
    shown = wait_server(cli, booted, "ACTIVE")
    assert shown["image"] == "N/A (booted from volume)"
    in_use = wait_volume(cli, root_id, "in-use")
    assert in_use["attachments"][0]["device"] == "/dev/vda"
    wait_console(client, booted, LOGIN_RE.pattern)
    wait_console(client, booted, r"VOLCHECK booted")

    cli.openstack_text("server", "delete", "--wait", booted)
    survived = wait_volume(cli, root_id, "available")
    assert survived["attachments"] == []

    # Clean up what the user made (the writer, both volumes).
    cli.openstack_text("server", "delete", "--wait", writer)
    cli.openstack_text("volume", "delete", volume_id, root_id)
    wait_until(
        lambda: not [v for v in cli.openstack("volume", "list") if v["ID"] in (volume_id, root_id)],
        timeout=TIMEOUT,
        interval=1.0,
        what="volumes deleted",
    )

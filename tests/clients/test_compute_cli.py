"""The real `openstack` CLI and openstacksdk drive a server's whole life against computecloud:
live API server, real conductor and compute workers (libvirt's test hypervisor)."""

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures
from tests.harness import wait_until

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]


def wait_status(env, name: str, status: str, timeout: float = 120) -> dict:
    def reached():
        shown = env.openstack("server", "show", name)
        assert shown["status"] != "ERROR", shown
        return shown if shown["status"] == status else None

    return wait_until(reached, timeout=timeout, interval=1.0, what=f"{name} {status}")


@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)
def test_cli_flavor_image_and_server_lifecycle(cloud, openstack_env, tmp_path: Path):  # noqa: F811
    env = openstack_env
    suffix = uuid.uuid4().hex[:6]
    image_file = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image_file), "8M"], check=True)

    # flavors
    env.openstack("flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", f"f-{suffix}")
    assert f"f-{suffix}" in [f["Name"] for f in env.openstack("flavor", "list")]

    # image upload
    image = env.openstack(
        "image",
        "create",
        "--file",
        str(image_file),
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        f"img-{suffix}",
    )
    assert image["status"] == "active"

    # create and wait
    name = f"vm-{suffix}"
    created = env.openstack(
        "server",
        "create",
        "--flavor",
        f"f-{suffix}",
        "--image",
        f"img-{suffix}",
        "--nic",
        "none",
        "--wait",
        name,
    )
    assert created["status"] == "ACTIVE"
    assert name in [s["Name"] for s in env.openstack("server", "list")]
    assert env.openstack("server", "show", name)["OS-EXT-STS:power_state"] in ("Running", 1)

    # power actions
    env.openstack_text("server", "reboot", "--hard", "--wait", name)
    env.openstack_text("server", "stop", name)
    wait_status(env, name, "SHUTOFF")
    env.openstack_text("server", "start", name)
    wait_status(env, name, "ACTIVE")

    # resize and confirm
    env.openstack_text("server", "resize", "--flavor", "m1.tiny", "--wait", name)
    assert env.openstack("server", "show", name)["status"] == "VERIFY_RESIZE"
    env.openstack_text("server", "resize", "confirm", name)
    shown = wait_status(env, name, "ACTIVE")
    assert shown["flavor"]["original_name"] == "m1.tiny"

    # snapshot and console log
    snapshot = env.openstack(
        "server", "image", "create", "--name", f"snap-{suffix}", "--wait", name
    )
    assert snapshot["status"] == "active"
    log = env.openstack_result("console", "log", "show", name)
    assert log.returncode == 0, log.stderr

    # delete
    env.openstack_text("server", "delete", "--wait", name)
    assert name not in [s["Name"] for s in env.openstack("server", "list")]


def test_sdk_server_lifecycle(cloud, openstack_env):  # noqa: F811
    conn = openstack_env.connection()
    server = conn.compute.create_server(
        name=f"sdk-{uuid.uuid4().hex[:6]}",
        image_id=cloud.image_id,
        flavor_id="0",
        networks="none",
    )
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=120)
    assert server.status == "ACTIVE"
    # wait_for_server trusts the object's own status first: re-read it after each action.
    conn.compute.reboot_server(server, "HARD")
    settle(conn, server, "ACTIVE")
    conn.compute.stop_server(server)
    settle(conn, server, "SHUTOFF")
    conn.compute.start_server(server)
    settle(conn, server, "ACTIVE")
    conn.compute.resize_server(server, "1")
    settle(conn, server, "VERIFY_RESIZE")
    conn.compute.confirm_server_resize(server)
    server = settle(conn, server, "ACTIVE")
    assert server.flavor.original_name == "m1.tiny"
    image = conn.compute.create_server_image(server, name="sdk-snap", wait=True, timeout=120)
    assert conn.image.get_image(image.id).status == "active"
    assert isinstance(conn.compute.get_server_console_output(server)["output"], str)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=120)
    assert conn.compute.find_server(server.id) is None


def settle(conn, server, status: str):
    """The server, fetched fresh, once it is in `status` with no task in progress."""

    def done():
        fresh = conn.compute.get_server(server)
        return fresh if fresh.status == status and fresh.task_state is None else None

    return wait_until(done, timeout=120, interval=0.5, what=f"{server.id} {status}")

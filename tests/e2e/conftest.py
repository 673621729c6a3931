"""What the real-QEMU tests share: one compute worker on qemu:///system per module, and a
cloud where only that host takes builds, with the tinyos image.

Run the real-VM tests one module at a time on this machine (``flock /tmp/cc-vm.lock``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cloud import Cloud, cloud, cloud_processes, forget_hosts  # noqa: F401 - fixtures
from tests.e2e.guest_helpers import build_image, destroy_guests_under
from tests.harness import CloudProcesses

logger = logging.getLogger(__name__)

COMPUTE = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


@pytest.fixture(scope="module")
def qemu_host(
    cloud_processes: CloudProcesses,  # noqa: F811
    django_db_blocker: Any,
) -> Iterator[str]:
    """A compute worker on the real hypervisor (a file volume pool, as by default); its
    guests and its records removed afterwards, even when a test failed."""
    host = cloud_processes.start_compute(
        f"cc-qemu-{uuid.uuid4().hex[:6]}",
        libvirt_uri="qemu:///system",
        virt_type=os.environ.get("VIRT_TYPE", "qemu"),
    )
    try:
        yield host
    finally:
        cloud_processes.compute_worker(host).stop()
        left = destroy_guests_under(cloud_processes.workdir / host)
        if left:
            logger.warning("destroyed guests a failed test left: %s", ", ".join(left))
        cloud_processes.clear_networks(host)
        with django_db_blocker.unblock():
            forget_hosts([host])


@pytest.fixture
def qemu_cloud(cloud: Cloud, qemu_host: str, admin: Any) -> Cloud:  # noqa: F811
    """The cloud with only the QEMU host enabled (the session's test hypervisor hosts are
    disabled through os-services), the tinyos image registered as a public image."""
    from apps.identity.services import ensure_project
    from apps.images.services import ensure_image_from_file

    cloud.processes.wait_hosts_ready([qemu_host], timeout=120)
    for service in admin.client.get("/compute/v2.1/os-services", **COMPUTE).json()["services"]:
        if service["host"] != qemu_host and service["status"] == "enabled":
            response = admin.client.put(
                f"/compute/v2.1/os-services/{service['id']}",
                {"status": "disabled", "disabled_reason": "e2e runs on real QEMU"},
                format="json",
                **COMPUTE,
            )
            assert response.status_code == 200, response.content
    image = ensure_image_from_file(
        name="tinyos",
        path=build_image(),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    cloud.image_id = str(image.id)
    return cloud

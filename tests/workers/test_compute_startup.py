"""The compute worker's start-up: the hypervisor driver is the one COMPUTE_DRIVER names.

A real worker process (`celery -A workers.compute.app worker`) with a setting it cannot use
exits before it takes a task, saying why; the default is the libvirt driver, which every
test that runs a compute host starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import CloudProcesses
from workers.compute.config import DEFAULT_COMPUTE_DRIVER, ComputeConfig, load_driver_class
from workers.virt.libvirt.driver import LibvirtDriver

# A worker that refuses to start exits long before this; one that starts never exits itself.
EXIT_DEADLINE = 120


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        (
            "workers.virt.nothing.NoDriver",
            "cannot import workers.virt.nothing: No module named 'workers.virt.nothing'",
        ),
        ("workers.virt.libvirt.driver.NoDriver", "workers.virt.libvirt.driver has no NoDriver"),
        ("workers.compute.config.ComputeConfig", "is not a ComputeDriver subclass"),
        ("LibvirtDriver", "is not a dotted path (package.module.Class)"),
    ],
)
def test_a_worker_with_a_bad_compute_driver_refuses_to_start(
    tmp_path: Path, setting: str, reason: str
) -> None:
    # given: a compute worker whose COMPUTE_DRIVER names no usable driver
    processes = CloudProcesses(public_url="http://127.0.0.1:9", workdir=tmp_path)
    host = processes.start_compute(extra_env={"COMPUTE_DRIVER": setting})
    worker = processes.compute_worker(host)
    try:
        # when: it starts
        code = worker.process.wait(timeout=EXIT_DEADLINE)
        log = worker.log.read_text(errors="replace")
    finally:
        worker.stop()
    # then: it exits with one line saying what is wrong, and never became ready
    assert code != 0
    assert f"compute worker refuses to start: COMPUTE_DRIVER={setting!r}" in log
    assert reason in log
    assert "ready." not in log
    assert "Traceback" not in log


def test_the_default_compute_driver_is_libvirt() -> None:
    # given: an environment without COMPUTE_DRIVER, and one that names the default
    plain = ComputeConfig.from_env({"REDIS_URL": "redis://127.0.0.1:6379/7"})
    named = ComputeConfig.from_env(
        {"REDIS_URL": "redis://127.0.0.1:6379/7", "COMPUTE_DRIVER": DEFAULT_COMPUTE_DRIVER}
    )
    # then: both build the libvirt driver
    assert plain.compute_driver == named.compute_driver == DEFAULT_COMPUTE_DRIVER
    assert load_driver_class(plain.compute_driver) is LibvirtDriver

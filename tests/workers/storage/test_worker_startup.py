"""A compute worker whose volume pool cannot work refuses to start, saying why (a real
worker process, as tests/workers/test_compute_startup.py starts them)."""

from pathlib import Path

import pytest

from tests.harness import CloudProcesses

# A worker that refuses to start exits long before this; one that starts never exits itself.
EXIT_DEADLINE = 120


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"VOLUME_BACKEND": "lvm", "VOLUME_GROUP": "ccvolhost-no-such-group"},
            "the LVM volume backend cannot work",
        ),
        ({"VOLUME_BACKEND": "ceph"}, "VOLUME_BACKEND='ceph': one of file, lvm, none"),
    ],
)
def test_a_worker_without_a_usable_pool_refuses_to_start(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    processes = CloudProcesses(public_url="http://127.0.0.1:9", workdir=tmp_path)
    host = processes.start_compute(extra_env=env)
    worker = processes.compute_worker(host)
    try:
        code = worker.process.wait(timeout=EXIT_DEADLINE)
        log = worker.log.read_text(errors="replace")
    finally:
        worker.stop()
    assert code != 0
    assert "compute worker refuses to start" in log
    assert reason in log
    assert "ready." not in log
    assert "Traceback" not in log

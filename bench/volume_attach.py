"""Volume benchmark through the whole stack on a real guest: attach and detach latency, and
volume creates as a user sees them.

    DJANGO_SETTINGS_MODULE=computecloud.settings .venv/bin/python bench/volume_attach.py \\
        [--rounds 20 --creates 5]

Starts the API, a conductor and one compute worker on ``qemu:///system`` (VIRT_TYPE=qemu)
whose storage agent keeps qcow2 files (the file backend), under ``/tmp/cc-vm.lock`` (one real
VM at a time machine-wide), with its own database (``cc_bench_volumes``) and Redis database
15. It boots one tinyos guest and waits for its login prompt (a guest
whose kernel is up lets go of a disk when asked), then times through the API:

- `--creates` times ``POST /volume/v3/volumes`` of a 1 GiB blank volume, and of one from the
  tinyos image, to
  ``available`` (the user's view: API, conductor-free create message, the host's storage
  agent, its report through the conductor);
- `--rounds` times: ``POST os-volume_attachments`` to the volume ``in-use``, and ``DELETE``
  to ``available`` again (the guest's kernel releasing the disk included).

Statuses are polled every 0.05 s, so each figure is at most that late. LVM is not measured
here: it needs the kernel's device-mapper (bench/volumes.py prints whether it is there).
The database, the processes, the guest and their files are removed at the end, even on
failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchCloud,
    bench_database,
    describe_ms,
    load_average,
    redis_url,
    wait_until,
)
from bench.boot import FLAVOR, LOGIN_RE, _console, _guest_image, _session, _set_up, _vm_lock

BENCH_DB = "cc_bench_volumes"
# Its own Redis database (bench/boot.py has 12): flushed at the start, so never one another
# process of the machine uses.
REDIS_URL = redis_url(15)
VOLUME = {"OpenStack-API-Version": "volume 3.71"}


def _volume_status(session: Any, base: str, volume_id: str) -> str:
    response = session.get(f"{base}/volume/v3/volumes/{volume_id}", headers=VOLUME, timeout=60)
    response.raise_for_status()
    status = response.json()["volume"]["status"]
    if status.startswith("error"):
        raise RuntimeError(f"volume {volume_id} went to {status}")
    return str(status)


def _until_status(session: Any, base: str, volume_id: str, status: str, timeout: float) -> None:
    wait_until(
        lambda: _volume_status(session, base, volume_id) == status,
        timeout=timeout,
        interval=0.05,
        what=f"volume {status}",
    )


def _create(session: Any, base: str, body: dict[str, Any], timeout: float) -> tuple[str, float]:
    started = time.perf_counter()
    response = session.post(
        f"{base}/volume/v3/volumes", json={"volume": body}, headers=VOLUME, timeout=120
    )
    response.raise_for_status()
    volume_id = response.json()["volume"]["id"]
    _until_status(session, base, volume_id, "available", timeout)
    return volume_id, time.perf_counter() - started


def _describe(name: str, samples: list[float]) -> str:
    return f"{name:36s} {describe_ms(samples)}"


def _run(
    cloud: BenchCloud, token: str, image_id: str, rounds: int, creates: int, timeout: float
) -> None:
    base = cloud.public_url
    session = _session(token)
    body = {"server": {"name": "bench-vol", "imageRef": image_id, "flavorRef": FLAVOR,
                       "networks": "none"}}  # fmt: skip
    response = session.post(f"{base}/compute/v2.1/servers", json=body, timeout=120)
    response.raise_for_status()
    server_id = response.json()["server"]["id"]
    wait_until(
        lambda: LOGIN_RE.search(_console(session, base, server_id)),
        timeout=timeout,
        interval=0.2,
        what="the guest's login prompt",
    )
    blank: list[float] = []
    from_image: list[float] = []
    made: list[str] = []
    for index in range(creates):
        volume_id, seconds = _create(session, base, {"size": 1, "name": f"blank-{index}"}, timeout)
        made.append(volume_id)
        blank.append(seconds)
        volume_id, seconds = _create(
            session, base, {"size": 1, "name": f"image-{index}", "imageRef": image_id}, timeout
        )
        made.append(volume_id)
        from_image.append(seconds)
    blank_id = made[0]
    attach: list[float] = []
    detach: list[float] = []
    url = f"{base}/compute/v2.1/servers/{server_id}/os-volume_attachments"
    for _ in range(rounds):
        started = time.perf_counter()
        session.post(
            url, json={"volumeAttachment": {"volumeId": blank_id}}, timeout=120
        ).raise_for_status()
        _until_status(session, base, blank_id, "in-use", timeout)
        attach.append(time.perf_counter() - started)
        started = time.perf_counter()
        session.delete(f"{url}/{blank_id}", timeout=120).raise_for_status()
        _until_status(session, base, blank_id, "available", timeout)
        detach.append(time.perf_counter() - started)
    print(f"volume benchmark on qemu:///system (TCG), file backend; {load_average()}")
    print(_describe("create 1 GiB blank→available", blank))
    print(_describe("create 1 GiB from tinyos→available", from_image))
    print(_describe("attach POST→in-use", attach))
    print(_describe("detach DELETE→available", detach))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="attach/detach rounds")
    parser.add_argument("--creates", type=int, default=5, help="creates of each kind")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per wait")
    args = parser.parse_args()

    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["CELERY_BROKER_URL"] = REDIS_URL
    os.environ["CACHE_URL"] = REDIS_URL
    os.environ["CACHE_KEY_PREFIX"] = "bench-volumes"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    Path("/var/lib/computecloud").mkdir(parents=True, exist_ok=True)
    # Not /tmp: libvirt's QEMU must reach the instance and volume files (0755 all the way).
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-vol-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    os.environ["STATE_DIR"] = str(workdir / "state")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with bench_database(BENCH_DB) as database_url, _vm_lock():
        cloud = BenchCloud(workdir=workdir, database_url=database_url, redis_url=REDIS_URL)
        try:
            caller, image_id = _set_up(workdir, _guest_image())
            cloud.start_api(workers=2, threads=4)
            cloud.start_conductor(pool="threads", concurrency=4)
            cloud.start_compute(f"bench-vol-{uuid.uuid4().hex[:6]}", libvirt_uri="qemu:///system")
            cloud.wait_hosts_ready()
            _run(cloud, caller.token, image_id, args.rounds, args.creates, args.timeout)
        except BaseException:
            for name in list(cloud.processes):
                print(f"--- {name}\n{cloud.tail(name, 15)}", file=sys.stderr)
            raise
        finally:
            cloud.stop_all()
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

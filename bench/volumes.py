"""Volume benchmark: how long the host's storage agent takes to make volumes.

    .venv/bin/python bench/volumes.py [--runs 10 --size-gb 1]

Measured through `workers.storage.agent.StorageAgent`, as the compute worker calls it (no
control plane, no database): for each backend, `--runs` creates of a blank volume of
`--size-gb` GiB, of a volume written from the tinyos image (tools/guest_image/build.sh; a
13 MiB compressed qcow2, a local file as the image cache gives it), a snapshot of a volume,
a volume from that snapshot, and the deletes. It prints p50/p95/mean per operation and the
space a blank and an image volume take.

The file backend writes qcow2 files in a fresh directory under /var/lib/computecloud. The
LVM backend needs the kernel's device-mapper with thin provisioning: when the kernel has it,
a 4 GiB loop device becomes a volume group with a thin pool for the run; when it does not,
the script prints the backend's own refusal instead of figures. Everything made is removed
at the end, even on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, describe_ms, load_average
from workers.storage.agent import StorageAgent
from workers.storage.config import StorageConfig
from workers.storage.exceptions import StorageUnavailable

WORKDIR_PARENT = Path("/var/lib/computecloud")
LVM_LOOP_SIZE = "4G"


def tinyos_image() -> Path:
    out = subprocess.run(
        [str(ROOT / "tools" / "guest_image" / "build.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return Path(out.strip().splitlines()[-1])


def timed(samples: dict[str, list[float]], name: str, fn: Callable[[], Any]) -> None:
    started = time.perf_counter()
    fn()
    samples.setdefault(name, []).append(time.perf_counter() - started)


def measure(agent: StorageAgent, image: Path, runs: int, size_gb: int) -> dict[str, list[float]]:
    backend = agent.config.backend
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        blank, from_image, restored = (str(uuid.uuid4()) for _ in range(3))
        snapshot = str(uuid.uuid4())

        def create(volume_id: str, **source: Any) -> Callable[[], None]:
            payload: Any = {
                "volume_id": volume_id,
                "size_gb": size_gb,
                "backend": backend,
                "request_id": "bench",
                **source,
            }
            return lambda: agent.create(payload, image=image if "image" in source else None)

        timed(samples, f"create blank {size_gb} GiB", create(blank))
        timed(samples, "create from tinyos", create(from_image, image={"image_id": "tinyos"}))
        timed(samples, "snapshot", lambda: agent.create_snapshot(snapshot, from_image, backend))  # noqa: B023
        timed(samples, "create from snapshot", create(restored, snapshot_id=snapshot))
        for volume_id in (blank, from_image, restored):
            timed(samples, "delete", functools.partial(agent.delete, volume_id, backend))
        timed(samples, "delete snapshot", lambda: agent.delete_snapshot(snapshot, backend))  # noqa: B023
    return samples


def space(agent: StorageAgent, image: Path, size_gb: int) -> str:
    """What a blank and an image volume take on the backing store (the file's blocks)."""
    if agent.config.backend != "file":
        return ""
    blank, from_image = str(uuid.uuid4()), str(uuid.uuid4())
    base: Any = {"size_gb": size_gb, "backend": "file", "request_id": "bench"}
    blank_payload: Any = {**base, "volume_id": blank}
    image_payload: Any = {**base, "volume_id": from_image, "image": {"image_id": "t"}}
    agent.create(blank_payload)
    agent.create(image_payload, image=image)
    try:
        sizes = [
            Path(agent.connection(v).path).stat().st_blocks * 512 // 1024
            for v in (blank, from_image)
        ]
    finally:
        agent.delete(blank, "file")
        agent.delete(from_image, "file")
    return f"space: blank {sizes[0]} KiB, from tinyos {sizes[1]} KiB (thin qcow2)"


def report(title: str, samples: dict[str, list[float]], extra: str = "") -> None:
    print(f"\n{title}")
    for name, values in samples.items():
        print(f"  {name:<24} {describe_ms(values)}")
    if extra:
        print(f"  {extra}")


@contextlib.contextmanager
def lvm_pool(workdir: Path) -> Iterator[StorageConfig]:
    """A loop-device volume group with a thin pool, removed at the end."""
    group = f"ccbench-{uuid.uuid4().hex[:8]}"
    backing = workdir / "pv.img"
    subprocess.run(["truncate", "-s", LVM_LOOP_SIZE, str(backing)], check=True)
    loop = subprocess.run(
        ["losetup", "-f", "--show", str(backing)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        for cmd in (
            ["pvcreate", "-q", loop],
            ["vgcreate", "-q", group, loop],
            ["lvcreate", "-q", "--type", "thin-pool", "-l", "90%VG", "-n", "pool", group],
        ):
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        yield StorageConfig(backend="lvm", volume_group=group, thin_pool="pool")
    finally:
        subprocess.run(["vgremove", "-f", group], check=False, capture_output=True)
        subprocess.run(["pvremove", "-q", loop], check=False, capture_output=True)
        subprocess.run(["losetup", "-d", loop], check=False)


def lvm_missing() -> str | None:
    """Why the kernel cannot hold thin volumes, or None: the backend's own check on a group
    that does not exist, keeping only what it says of the kernel."""
    try:
        StorageAgent(StorageConfig(backend="lvm", volume_group="ccbench-none")).check()
    except StorageUnavailable as exc:
        problems = str(exc).split(": ", 1)[-1].split("; ")
        kernel = [p for p in problems if "device-mapper" in p]
        return "; ".join(kernel) or None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size-gb", type=int, default=1)
    args = parser.parse_args()

    image = tinyos_image()
    print(f"tinyos image: {image} ({image.stat().st_size // 1024} KiB)")
    print(load_average())
    workdir = Path(tempfile.mkdtemp(prefix="cc-bench-volumes-", dir=WORKDIR_PARENT))
    try:
        agent = StorageAgent(StorageConfig(backend="file", path=workdir / "volumes"))
        agent.check()
        samples = measure(agent, image, args.runs, args.size_gb)
        report("file backend (qcow2 files)", samples, space(agent, image, args.size_gb))

        reason = lvm_missing()
        if reason is not None:
            print(f"\nLVM backend: not measured: {reason}")
        else:
            with lvm_pool(workdir) as config:
                lvm = StorageAgent(config)
                lvm.check()
                report("LVM backend (thin LVs)", measure(lvm, image, args.runs, args.size_gb))
        print(f"\n{load_average()}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

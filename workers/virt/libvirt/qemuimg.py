"""Thin wrappers around the ``qemu-img`` command: inspect, create, convert, resize.

Owns the command lines and turns failures into DiskOperationFailed; it decides nothing about
which disks an instance has (that is driver.py's job). Every call has a timeout, so a stuck
NFS mount cannot hang a worker forever, runs under address-space and CPU limits (prlimit),
and names every image's format (``-f``/``-F``): qemu-img never probes one.
"""

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from workers.virt.exceptions import DiskOperationFailed

logger = logging.getLogger(__name__)

QEMU_IMG = "qemu-img"
# Generous: converting a multi-GiB image on a busy host takes minutes.
DEFAULT_TIMEOUT_S = 3600
GiB = 1024**3
MiB = 1024**2


# Resource limits of every qemu-img process (it parses image headers, some from users):
# address space and CPU seconds. Inspection gets Nova's and Glance's limits (1 GiB, 30 s);
# the others are generous bounds for multi-GiB conversions.
INFO_LIMITS = (1 * GiB, 30)
WORK_LIMITS = (4 * GiB, DEFAULT_TIMEOUT_S)
PRLIMIT = shutil.which("prlimit")  # util-linux; applied without a preexec_fn (threads)


def _run(
    *args: str, timeout: float = DEFAULT_TIMEOUT_S, limits: tuple[int, int] = WORK_LIMITS
) -> str:
    cmd = [QEMU_IMG, *args]
    if PRLIMIT is not None:
        address_space, cpu_seconds = limits
        cmd = [PRLIMIT, f"--as={address_space}", f"--cpu={cpu_seconds}", *cmd]
    else:
        logger.warning("prlimit is not installed: qemu-img runs without resource limits")
    try:
        result = subprocess.run(  # noqa: S603 -- fixed program, arguments built here
            cmd, check=True, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.CalledProcessError as exc:
        raise DiskOperationFailed(
            command=f"{QEMU_IMG} {args[0]}", reason=(exc.stderr or exc.stdout or "").strip()
        ) from exc
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise DiskOperationFailed(command=f"{QEMU_IMG} {args[0]}", reason=str(exc)) from exc
    return result.stdout


def info(path: Path, *, fmt: str, force_share: bool = False) -> dict[str, Any]:
    """``qemu-img info --output=json -f fmt``: the format is always given, never probed;
    ``force_share`` reads an image a running QEMU holds locked."""
    args = ["info", "--output=json", "-f", fmt]
    if force_share:
        args.append("-U")
    data: dict[str, Any] = json.loads(_run(*args, str(path), timeout=120, limits=INFO_LIMITS))
    return data


def virtual_size(path: Path, *, force_share: bool = False) -> int:
    return int(info(path, fmt="qcow2", force_share=force_share)["virtual-size"])


def backing_file(path: Path) -> Path | None:
    """The (absolute) backing file of a qcow2 image, or None."""
    data = info(path, fmt="qcow2", force_share=True)
    name = data.get("full-backing-filename") or data.get("backing-filename")
    return Path(name) if name else None


def create(path: Path, *, size_bytes: int, backing: Path | None = None) -> None:
    """Create a qcow2 image; with ``backing``, a copy-on-write overlay of that qcow2 file."""
    args = ["create", "-q", "-f", "qcow2"]
    if backing is not None:
        args += ["-b", str(backing), "-F", "qcow2"]
    _run(*args, str(path), str(size_bytes))


def convert(
    src: Path,
    dest: Path,
    *,
    src_format: str,
    backing: Path | None = None,
    force_share: bool = False,
) -> None:
    """Write ``src`` as a new qcow2 file. Without ``backing`` the result stands alone
    (flattened); with it, only clusters that differ from ``backing`` are written."""
    args = ["convert", "-f", src_format, "-O", "qcow2"]
    if backing is not None:
        args += ["-B", str(backing), "-F", "qcow2"]
    if force_share:
        args.append("-U")
    _run(*args, str(src), str(dest))


def resize(path: Path, size_bytes: int) -> None:
    """Grow a qcow2 image to ``size_bytes`` (never called to shrink)."""
    _run("resize", "-q", "-f", "qcow2", str(path), str(size_bytes), timeout=120)

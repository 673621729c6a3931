"""Disk image inspection with ``qemu-img info``: what format the bytes really are, and the
virtual size of the disk they hold.

Uploaded data is checked against its declared ``disk_format`` before it becomes active: a
"raw" image that is really qcow2, or a qcow2 with a backing file or an external data file,
would make a compute host read files it should never open (the class of bug behind
CVE-2022-47951 and CVE-2024-32498). No database access here.
"""

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from apps.images.exceptions import ImageInvalid

logger = logging.getLogger(__name__)

# disk_format → the name qemu-img reports; formats not listed are stored unchecked.
QEMU_FORMATS = {
    "raw": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vhd": "vpc",
    "vhdx": "vhdx",
    "vdi": "vdi",
}
# VMDK subformats that keep all data in the one file (the others reference other files).
SAFE_VMDK_TYPES = frozenset({"monolithicSparse", "streamOptimized"})
# qemu-img runs on untrusted input: bound its memory and CPU, as Glance does.
QEMU_IMG_ADDRESS_SPACE = 1024 * 1024 * 1024  # bytes
QEMU_IMG_CPU_SECONDS = 30
QEMU_IMG_TIMEOUT = 120  # seconds of wall time


def _qemu_img_info(path: Path) -> dict[str, Any] | None:
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        logger.warning("qemu-img is not installed: image %s stored without inspection", path.name)
        return None
    command = [qemu_img, "info", "--output=json", str(path)]
    prlimit = shutil.which("prlimit")
    if prlimit is not None:
        command = [
            prlimit,
            f"--as={QEMU_IMG_ADDRESS_SPACE}",
            f"--cpu={QEMU_IMG_CPU_SECONDS}",
            *command,
        ]
    try:
        # A fixed argument list of resolved paths, no shell: nothing from the request.
        result = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=QEMU_IMG_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ImageInvalid(reason="Image data could not be inspected in time.") from None
    if result.returncode != 0:
        logger.info("qemu-img info failed on %s: %s", path.name, result.stderr.strip())
        raise ImageInvalid(reason="Image data could not be inspected as a disk image.")
    info: dict[str, Any] = json.loads(result.stdout)
    return info


def inspect_disk(path: Path, *, disk_format: str | None, size: int) -> int | None:
    """Check the data at `path` against `disk_format` and return its virtual size in bytes
    (None when the format is not one qemu-img can vouch for).

    Raises `ImageInvalid` when the content is another format than declared, or refers to
    other files (backing file, external data file, non-monolithic VMDK).
    """
    expected = QEMU_FORMATS.get(disk_format or "")
    if expected is None:
        return None
    info = _qemu_img_info(path)
    if info is None:
        return size if disk_format == "raw" else None
    actual = info.get("format")
    if actual != expected:
        raise ImageInvalid(reason="Image content does not match disk_format.")
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ImageInvalid(reason="Image has a backing file, which is not allowed.")
    specific = (info.get("format-specific") or {}).get("data") or {}
    if specific.get("data-file"):
        raise ImageInvalid(reason="Image has an external data file, which is not allowed.")
    if actual == "vmdk" and specific.get("create-type") not in SAFE_VMDK_TYPES:
        raise ImageInvalid(reason="Only monolithic VMDK images are allowed.")
    if actual == "raw":
        return size  # qemu-img rounds a raw file up to whole sectors; the disk is the data
    virtual_size = info.get("virtual-size")
    return int(virtual_size) if virtual_size is not None else None

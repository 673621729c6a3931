"""Disk image inspection with ``qemu-img info``: what format the bytes really are, and the
virtual size of the disk they hold.

Uploaded data is checked against its declared ``disk_format`` before it becomes active: a
"raw" image that is really qcow2, or a qcow2 with a backing file or an external data file,
would make a compute host read files it should never open (the class of bug behind
CVE-2022-47951 and CVE-2024-32498). The header is read in Python first; qemu-img then
reads the data with its format named (never probed) and under resource limits. Compute
hosts check again on their own (workers/virt/libvirt/diskinspect.py). No database access
here.
"""

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from oslo_utils.imageutils import format_inspector

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


# Formats the header inspector may find in data declared as each disk_format: a raw disk
# with a partition table, or an ISO file system, is still raw data (as Nova accepts).
ACCEPTED_AS = {"raw": frozenset({"raw", "gpt", "iso"})}


def _check_header(path: Path, disk_format: str) -> None:
    """Read the header in Python (OpenStack's format inspector, as Glance and Nova since
    CVE-2024-32498) before any qemu-img process sees the data: its format must be the declared
    one and pass that format's safety checks (backing file, data file, VMDK extents, ...)."""
    try:
        found = format_inspector.detect_file_format(str(path))
    except format_inspector.ImageFormatError:
        raise ImageInvalid(reason="Image content does not match disk_format.") from None
    actual = str(found) if found is not None else "unknown"
    if actual not in ACCEPTED_AS.get(disk_format, frozenset({disk_format})):
        raise ImageInvalid(reason="Image content does not match disk_format.")
    assert found is not None  # a match of an accepted name
    try:
        found.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        if "backing_file" in exc.failures:
            raise ImageInvalid(reason="Image has a backing file, which is not allowed.") from None
        if "data_file" in exc.failures:
            raise ImageInvalid(
                reason="Image has an external data file, which is not allowed."
            ) from None
        raise ImageInvalid(
            reason=f"Image fails the {', '.join(sorted(exc.failures))} safety check."
        ) from None
    except format_inspector.ImageFormatError:
        raise ImageInvalid(reason="Image content does not match disk_format.") from None


def _qemu_img_info(path: Path, qemu_format: str) -> dict[str, Any] | None:
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        logger.warning("qemu-img is not installed: image %s stored without inspection", path.name)
        return None
    # The format is named, never probed: the header check above has vouched for it.
    command = [qemu_img, "info", "--output=json", "-f", qemu_format, str(path)]
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
    _check_header(path, disk_format or "")
    info = _qemu_img_info(path, expected)
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

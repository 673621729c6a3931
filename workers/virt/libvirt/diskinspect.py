"""Untrusted disk images read in Python before any qemu-img process sees them.

A qcow2 header can name a backing file or an external data file, so an image "of" 1 MiB can
make whatever opens it read (or write) any file of the host; a "raw" image whose bytes are a
qcow2 does the same to anyone who lets qemu probe its format (CVE-2022-47951,
CVE-2024-32498). So an image's header is read here first, by OpenStack's format inspector
(oslo.utils ``imageutils.format_inspector``, what Nova and Glance use since CVE-2024-32498:
qcow2 backing-file offset and data-file feature bit, unknown qcow2 features, VMDK extents,
VHD/VHDX/VDI/QED/LUKS/ISO/GPT signatures, and files that look like two formats at once),
and only an image whose detected format is its declared ``disk_format`` and that passes
every safety check goes on, to qemu-img with that format pinned (``-f``) and under
resource limits (qemuimg.py).

We use the library rather than our own parser: header parsing of hostile files is where a
maintained, CVE-driven implementation beats ours. It costs a handful of small pure-Python
packages at install (oslo.utils, oslo.i18n, pbr, iso8601, netaddr, pyparsing, psutil);
at run time the inspector imports only oslo.i18n besides the standard library.
"""

from pathlib import Path

from oslo_utils.imageutils import format_inspector

from workers.virt import exceptions

# Detected formats a declared disk_format may be: a raw disk with a partition table (MBR or
# GPT) or an ISO 9660 file system is still raw data to qemu, as Nova also accepts.
ACCEPTED_AS = {"raw": frozenset({"raw", "gpt", "iso"})}
# What each safety check the inspector may fail means, in a fault's words.
_CHECK_REASONS = {
    "backing_file": "it names a backing file",
    "data_file": "it names an external data file",
    "unknown_features": "it uses qcow2 features this host does not know",
    "banned": "its format is not allowed",
    "mbr": "its partition table is invalid",
}


def inspect(path: Path, *, expected: str, image_id: str) -> None:
    """ImageUnacceptable unless the data at `path` is, by its header, exactly the format
    `expected` and passes that format's safety checks. Reads the file; runs nothing."""
    try:
        found = format_inspector.detect_file_format(str(path))
    except format_inspector.ImageFormatError as exc:
        raise exceptions.ImageUnacceptable(
            image_id=image_id, reason=f"its format cannot be told: {exc}"
        ) from exc
    actual = str(found) if found is not None else "unknown"
    if actual not in ACCEPTED_AS.get(expected, frozenset({expected})):
        raise exceptions.ImageUnacceptable(
            image_id=image_id, reason=f"its data is {actual}, but its disk_format says {expected}"
        )
    assert found is not None  # a match of an accepted name
    try:
        found.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        reasons = [
            _CHECK_REASONS.get(name, f"it fails the {name} check ({failure})")
            for name, failure in exc.failures.items()
        ]
        raise exceptions.ImageUnacceptable(image_id=image_id, reason="; ".join(reasons)) from exc
    except format_inspector.ImageFormatError as exc:
        raise exceptions.ImageUnacceptable(
            image_id=image_id, reason=f"its {expected} header is incomplete: {exc}"
        ) from exc

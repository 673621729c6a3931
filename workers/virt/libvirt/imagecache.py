"""The per-host cache of base images: download once, verify, share as qcow2 backing files.

Layout under the cache directory (``IMAGE_CACHE_PATH``)::

    <algo>-<hash>               a verified qcow2 base, named by the image data's hash
                                (os_hash_algo/os_hash_value): never by image id, which
                                a deleted image leaves free for other data
    .<algo>-<hash>.digest       the hash of a converted base (raw images become qcow2)
    .<algo>-<hash>.<rnd>.part   a download in progress (removed on failure)
    .locks/<algo>-<hash>.lock   the per-base flock

A base is trusted by its content, not its name: before each use it is hashed again unless
this process hashed it since its last change (inode, size, mtime, ctime); one that no longer
matches is removed and downloaded again. Bases no guest uses and nobody used for the grace
period (``IMAGE_CACHE_GRACE``) are removed by the compute worker's periodic clean-up.

Concurrency: every read or write of one image's base happens under an exclusive ``flock``
on its lock file, so concurrent spawns (threads or processes) download it once; the
second waits and then finds the file. ``flock`` (not ``lockf``) is used because its locks
belong to the open file, so two threads of one process exclude each other too. Lock files
are never deleted: unlinking a lock file others wait on would let two holders coexist.

Security: images are downloaded from the control plane's base URL only (any other scheme,
host or port is refused before anything is opened: workers/transfer.py); a downloaded file
is accepted only if its size and checksums match the image
record, its format read from its header in Python (diskinspect.py) is the declared
``disk_format`` (a "raw" image that is really a qcow2 could name a host file as its backing
file), and it has no backing or external data file; qemu-img only ever reads it with its
format pinned and under resource limits. Nothing here knows about instances: the driver
says which bases are in use.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import tempfile
import time
import urllib.error
from collections.abc import Iterable, Iterator
from pathlib import Path

from workers.transfer import CHUNK, ControlPlane, UrlRefused, download, redact_url
from workers.virt import exceptions
from workers.virt.driver import ImageSource
from workers.virt.libvirt import diskinspect, qemuimg

logger = logging.getLogger(__name__)

SUPPORTED_DISK_FORMATS = frozenset({"qcow2", "raw"})
# Hashes a base may be named and verified by (Glance's os_hash_algo; md5 is not enough).
SECURE_HASHES = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b"})
_HEX = re.compile(r"^[0-9a-f]{64,128}$")

__all__ = ["ImageCache", "check_format", "download", "fetch_verified", "redact_url"]


class ImageCache:
    """Base images of one host, fetched over HTTP and verified (see the module docstring)."""

    def __init__(
        self, path: Path, *, control_plane: ControlPlane, download_timeout: float = 60.0
    ) -> None:
        self.path = Path(path)
        # Image data comes from the control plane's base URL and nowhere else.
        self.control_plane = control_plane
        # Seconds without a byte from the server before a download is abandoned.
        self.download_timeout = download_timeout
        # A base never changes once installed (a new download is a new file, a new inode), so
        # its virtual size is read once per file, not once per spawn (qemu-img is a process).
        self._virtual_sizes: dict[tuple[str, int, int], int] = {}
        # Bases this process hashed and found intact, by path: the file's identity then
        # (inode, size, mtime and ctime in ns). Any write, rename or touch by someone else
        # changes it, and the base is hashed again before its next use.
        self._verified: dict[str, tuple[int, int, int, int]] = {}

    def base_path(self, image: ImageSource) -> Path:
        """Where the base of ``image`` lives: named by its content hash, not its id."""
        return self.path / self._name(image)

    def fetch(self, image: ImageSource) -> Path:
        """Return the verified qcow2 base of ``image``, downloading it on first use.

        A cached base is used only while its content still hashes to what it was installed
        as (checked again whenever the file changed since this process last checked it); a
        base that does not is removed and downloaded again.

        Raises ImageDownloadFailed, ImageChecksumMismatch or ImageUnacceptable; nothing is
        left in the cache then.
        """
        if image.container_format != "bare":
            raise exceptions.ImageUnacceptable(
                image_id=image.image_id,
                reason=f"container_format {image.container_format!r} cannot boot a guest",
            )
        if image.disk_format not in SUPPORTED_DISK_FORMATS:
            raise exceptions.ImageUnacceptable(
                image_id=image.image_id,
                reason=f"disk_format {image.disk_format!r} is not one of "
                f"{', '.join(sorted(SUPPORTED_DISK_FORMATS))}",
            )
        name = self._name(image)
        base = self.path / name
        with self._lock(name):
            if base.exists():
                if self._intact(image, base):
                    os.utime(base)  # mtime = last use, for cleanup
                    self._remember(base)
                    return base
                logger.warning(
                    "cached base %s of image %s no longer matches its hash; fetching it again",
                    name,
                    image.image_id,
                )
                self._discard(base)
            self._download_verified(image, name, base)
        return base

    def virtual_size(self, base: Path) -> int:
        """The virtual size in bytes of a base `fetch` returned."""
        stat = base.stat()
        key = (str(base), stat.st_ino, stat.st_size)  # not mtime: `fetch` touches it on use
        size = self._virtual_sizes.get(key)
        if size is None:
            size = self._virtual_sizes[key] = qemuimg.virtual_size(base)
        return size

    def cleanup(self, in_use: Iterable[Path], *, min_unused_age: float) -> list[Path]:
        """Remove bases not in ``in_use`` and untouched for ``min_unused_age`` seconds, and
        abandoned partial downloads; return the removed paths. Images being fetched are
        skipped (their lock is held)."""
        if not self.path.is_dir():
            return []
        keep = {Path(p).resolve() for p in in_use}
        cutoff = time.time() - min_unused_age
        removed: list[Path] = []
        for entry in sorted(self.path.iterdir()):
            if not entry.is_file() or entry.resolve() in keep:
                continue
            partial = entry.name.startswith(".") and entry.name.endswith(".part")
            if entry.name.startswith(".") and not partial:
                continue  # lock files, digest files (removed with their base)
            name = entry.name[1:].split(".", 1)[0] if partial else entry.name
            with self._lock(name, blocking=False) as held:
                if not held:
                    continue  # being downloaded or used for a spawn right now
                try:
                    if entry.stat().st_mtime > cutoff:
                        continue
                    if partial:
                        entry.unlink()
                    else:
                        self._discard(entry)
                except FileNotFoundError:
                    continue
            removed.append(entry)
            logger.info("removed unused cached image %s", entry)
        return removed

    # --- internals ------------------------------------------------------------------------------

    @staticmethod
    def _name(image: ImageSource) -> str:
        """The cache file name: ``<algorithm>-<hex digest>`` of the image's data.

        Named by content, not by id: an image id may be deleted and used again for other
        data, and two images with the same data share one base.
        """
        algo = (image.os_hash_algo or "sha512").lower()
        value = (image.os_hash_value or "").lower()
        if algo not in SECURE_HASHES or not _HEX.match(value):
            raise exceptions.ImageUnacceptable(
                image_id=image.image_id,
                reason="it has no secure hash (os_hash_value) to verify its data against",
            )
        return f"{algo}-{value}"

    @staticmethod
    def _digest_file(base: Path) -> Path:
        """Where the digest of a converted base is kept (its content is not the image's)."""
        return base.with_name(f".{base.name}.digest")

    def _intact(self, image: ImageSource, base: Path) -> bool:
        """Whether ``base`` still holds what it was installed as. Caller holds its lock."""
        stat = base.stat()
        if self._verified.get(str(base)) == _identity(stat):
            return True
        algo = (image.os_hash_algo or "sha512").lower()
        if image.disk_format == "qcow2":
            expected = (image.os_hash_value or "").lower()  # the base is the image's data
        else:
            try:
                expected = self._digest_file(base).read_text().strip()
            except FileNotFoundError:
                return False
        return bool(expected) and _hash_file(base, algo) == expected

    def _remember(self, base: Path) -> None:
        self._verified[str(base)] = _identity(base.stat())

    def _discard(self, base: Path) -> None:
        """Remove a base and its digest file. Caller holds its lock."""
        self._verified.pop(str(base), None)
        base.unlink(missing_ok=True)
        self._digest_file(base).unlink(missing_ok=True)

    @contextlib.contextmanager
    def _lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        locks = self.path / ".locks"
        locks.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing the file releases the flock

    def _download_verified(self, image: ImageSource, name: str, base: Path) -> None:
        """Download, verify and install ``base``. Caller holds the image's lock."""
        self.path.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        converted = tmp.with_name(tmp.name[: -len(".part")] + ".qcow2.part")
        started = time.monotonic()
        try:
            size = fetch_verified(
                image, tmp, control_plane=self.control_plane, timeout=self.download_timeout
            )
            if image.disk_format == "raw":
                # Bases are always qcow2, so every overlay names its backing format alike.
                qemuimg.convert(tmp, converted, src_format="raw")
                tmp.unlink()
                final = converted
                # The converted file is not the image's data: record what it hashes to.
                algo = (image.os_hash_algo or "sha512").lower()
                self._digest_file(base).write_text(_hash_file(final, algo) + "\n")
            else:
                final = tmp
            final.chmod(0o644)
            os.replace(final, base)
            self._remember(base)
        finally:
            for leftover in (tmp, converted):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        logger.info(
            "cached image %s as %s (%d bytes) in %.1f s",
            image.image_id,
            name,
            size,
            time.monotonic() - started,
        )


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _hash_file(path: Path, algo: str) -> str:
    hasher = hashlib.new(algo)
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def fetch_verified(
    image: ImageSource, dest: Path, *, control_plane: ControlPlane, timeout: float
) -> int:
    """Download ``image`` from the control plane into ``dest`` and prove it is what the
    record says: size, md5, multihash, probed format, no backing or data file. Returns its
    size in bytes. A URL outside ``control_plane`` is refused before anything is opened.

    Raises ImageDownloadFailed, ImageChecksumMismatch or ImageUnacceptable (``dest`` may be
    left behind for the caller to remove).
    """
    algorithms = ["md5"]
    if image.os_hash_value:
        algo = (image.os_hash_algo or "sha512").lower()
        if algo not in hashlib.algorithms_guaranteed:
            raise exceptions.ImageUnacceptable(
                image_id=image.image_id, reason=f"unknown hash algorithm {algo!r}"
            )
        algorithms.append(algo)
    try:
        size, digests = download(
            image.url, dest, control_plane=control_plane, algorithms=algorithms, timeout=timeout
        )
    except (OSError, urllib.error.URLError, UrlRefused) as exc:
        raise exceptions.ImageDownloadFailed(
            image_id=image.image_id, reason=f"{redact_url(image.url)}: {exc}"
        ) from exc
    _verify(image, size, digests)
    if image.container_format == "bare":
        # A container (a migration's tar) is not a disk: its members are checked unpacked.
        check_format(dest, expected=image.disk_format, image_id=image.image_id)
    return size


def _verify(image: ImageSource, size: int, digests: dict[str, str]) -> None:
    if image.size is not None and size != image.size:
        raise exceptions.ImageChecksumMismatch(
            image_id=image.image_id, algorithm="size", actual=size, expected=image.size
        )
    if image.checksum and digests["md5"] != image.checksum.lower():
        raise exceptions.ImageChecksumMismatch(
            image_id=image.image_id,
            algorithm="md5",
            actual=digests["md5"],
            expected=image.checksum,
        )
    if image.os_hash_value:
        algo = (image.os_hash_algo or "sha512").lower()
        if digests[algo] != image.os_hash_value.lower():
            raise exceptions.ImageChecksumMismatch(
                image_id=image.image_id,
                algorithm=algo,
                actual=digests[algo],
                expected=image.os_hash_value,
            )


def check_format(path: Path, *, expected: str, image_id: str) -> None:
    """ImageUnacceptable unless ``path`` is ``expected`` with no backing file and no
    external data file (either would let an image read host files).

    The header is read in Python first (diskinspect.py): a file qemu would take for another
    format, or one that refers to other files, never reaches a qemu-img process. qemu-img
    then reads it as ``expected`` (never probing), under resource limits, as a second
    opinion.
    """
    diskinspect.inspect(path, expected=expected, image_id=image_id)
    try:
        probed = qemuimg.info(path, fmt=expected)
    except exceptions.DiskOperationFailed as exc:
        # qemu-img's own words (paths, host details) stay in the traceback, for admins.
        raise exceptions.ImageUnacceptable(
            image_id=image_id, reason=f"qemu-img cannot read it as {expected}"
        ) from exc
    if probed.get("format") != expected:
        raise exceptions.ImageUnacceptable(
            image_id=image_id,
            reason=f"its data is {probed.get('format')}, but its disk_format says {expected}",
        )
    if probed.get("backing-filename"):
        raise exceptions.ImageUnacceptable(image_id=image_id, reason="it names a backing file")
    specific = (probed.get("format-specific") or {}).get("data") or {}
    if specific.get("data-file"):
        raise exceptions.ImageUnacceptable(
            image_id=image_id, reason="it names an external data file"
        )

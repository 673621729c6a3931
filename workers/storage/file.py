"""Volumes as qcow2 files in one directory (``VOLUME_PATH``), which may be shared (NFS).

    volume-<id>.qcow2      a volume: thin, it grows as the guest writes
    snapshot-<id>.qcow2    a snapshot: a standalone qcow2 copy of the volume when taken
    .<name>.part           a create or snapshot under way (renamed when whole)

A running guest holds QEMU's lock on its volume's file: reads go with ``-U`` (force share),
and growing it is the hypervisor's (`Backend.grown_by_hypervisor_in_use`).
"""

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from workers.storage.backend import Backend, Connection, checked_id
from workers.storage.commands import GiB, run, virtual_size
from workers.storage.exceptions import SnapshotNotFound, StorageUnavailable, VolumeNotFound


class FileBackend(Backend):
    kind = "file"
    grown_by_hypervisor_in_use = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # --- names ----------------------------------------------------------------------------------
    def volume_path(self, volume_id: str) -> Path:
        return self.path / f"volume-{checked_id(volume_id)}.qcow2"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.path / f"snapshot-{checked_id(snapshot_id)}.qcow2"

    @staticmethod
    def _part(final: Path) -> Path:
        return final.with_name(f".{final.name}.part")

    # --- pool -----------------------------------------------------------------------------------
    def check(self) -> None:
        if shutil.which("qemu-img") is None:
            raise StorageUnavailable("the file volume backend needs qemu-img (qemu-utils)")
        try:
            self.path.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"VOLUME_PATH {self.path} cannot be created: {exc}") from exc
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"VOLUME_PATH {self.path} is not writable")

    def capacity(self) -> tuple[int, int]:
        stat = os.statvfs(self.path)
        return stat.f_blocks * stat.f_frsize // GiB, stat.f_bavail * stat.f_frsize // GiB

    def volume_size(self, volume_id: str) -> int | None:
        path = self.volume_path(volume_id)
        return virtual_size(path, fmt="qcow2") if path.is_file() else None

    def snapshot_exists(self, snapshot_id: str) -> bool:
        return self.snapshot_path(snapshot_id).is_file()

    # --- volumes --------------------------------------------------------------------------------
    def create_blank(self, volume_id: str, size_gb: int) -> None:
        with self._writing(self.volume_path(volume_id)) as part:
            run("qemu-img", "create", "-q", "-f", "qcow2", str(part), f"{size_gb}G")

    def create_from_image(
        self, volume_id: str, size_gb: int, image: Path, image_format: str
    ) -> None:
        _fits(virtual_size(image, fmt=image_format), size_gb, f"image {image.name}")
        with self._writing(self.volume_path(volume_id)) as part:
            run("qemu-img", "convert", "-f", image_format, "-O", "qcow2", str(image), str(part))
            _grow(part, size_gb)

    def create_from_snapshot(self, volume_id: str, size_gb: int, snapshot_id: str) -> None:
        source = self.snapshot_path(snapshot_id)
        if not source.is_file():
            raise SnapshotNotFound(snapshot_id)
        self._copy(source, self.volume_path(volume_id), size_gb)

    def create_from_volume(self, volume_id: str, size_gb: int, source_volume_id: str) -> None:
        source = self.volume_path(source_volume_id)
        if not source.is_file():
            raise VolumeNotFound(source_volume_id)
        self._copy(source, self.volume_path(volume_id), size_gb)

    def delete(self, volume_id: str) -> None:
        final = self.volume_path(volume_id)
        self._part(final).unlink(missing_ok=True)
        final.unlink(missing_ok=True)

    def extend(self, volume_id: str, size_gb: int) -> None:
        path = self.volume_path(volume_id)
        if not path.is_file():
            raise VolumeNotFound(volume_id)
        _grow(path, size_gb)

    # --- snapshots ------------------------------------------------------------------------------
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        source = self.volume_path(volume_id)
        if not source.is_file():
            raise VolumeNotFound(volume_id)
        self._copy(source, self.snapshot_path(snapshot_id), None)

    def delete_snapshot(self, snapshot_id: str) -> None:
        final = self.snapshot_path(snapshot_id)
        self._part(final).unlink(missing_ok=True)
        final.unlink(missing_ok=True)

    def connection(self, volume_id: str) -> Connection:
        path = self.volume_path(volume_id)
        if not path.is_file():
            raise VolumeNotFound(volume_id)
        return Connection(path=str(path), source_type="file", disk_format="qcow2")

    # --- internals ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self, final: Path) -> Iterator[Path]:
        """The temporary file to write `final` into; renamed to it when the block succeeds,
        removed when it fails (and a leftover of an interrupted attempt is removed first)."""
        part = self._part(final)
        part.unlink(missing_ok=True)
        try:
            yield part
            part.chmod(0o644)
            part.rename(final)
        finally:
            part.unlink(missing_ok=True)

    def _copy(self, source: Path, final: Path, size_gb: int | None) -> None:
        """A standalone qcow2 copy of `source` (read shared: a guest may hold it)."""
        if size_gb is not None:
            _fits(virtual_size(source, fmt="qcow2"), size_gb, source.name)
        with self._writing(final) as part:
            run("qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", str(source), str(part))
            if size_gb is not None:
                _grow(part, size_gb)


def _fits(size_bytes: int, size_gb: int, what: str) -> None:
    if size_bytes > size_gb * GiB:
        raise ValueError(f"{what} is {size_bytes} bytes, more than the volume's {size_gb} GiB")


def _grow(path: Path, size_gb: int) -> None:
    if virtual_size(path, fmt="qcow2") < size_gb * GiB:
        run("qemu-img", "resize", "-q", "-f", "qcow2", str(path), f"{size_gb}G", timeout=120)

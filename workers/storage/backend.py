"""The contract of a storage backend: where one host keeps its volumes and snapshots.

A volume is named by its id only; the backend alone knows where it lives (a file, a logical
volume). Every operation is idempotent, because a task redelivered after a worker died runs
it again: creating a volume that exists complete is success, deleting one that is gone is
success. A create is never seen half done: the data is written under a temporary name and
the volume appears under its own name only once it is whole.
"""

import abc
import re
from dataclasses import dataclass
from pathlib import Path

# Ids become file and LV names: a uuid's characters only.
_ID = re.compile(r"^[0-9a-fA-F-]{1,64}$")


def checked_id(value: str) -> str:
    """`value` when it can safely name a file or a logical volume (a uuid), else ValueError."""
    if not _ID.fullmatch(value or ""):
        raise ValueError(f"{value!r} is not a volume or snapshot id")
    return value


@dataclass(frozen=True)
class Connection:
    """What the hypervisor needs to give a guest the volume."""

    path: str
    source_type: str  # "file" or "block"
    disk_format: str  # "qcow2" or "raw"


class Backend(abc.ABC):
    #: "file" or "lvm": what the control plane calls the pool's backend.
    kind: str
    #: A volume a running guest holds is grown by the hypervisor itself (a qcow2 file is
    #: locked by the QEMU that has it open, which resizes it), not by `extend`.
    grown_by_hypervisor_in_use: bool = False

    @abc.abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable saying what is missing when this backend cannot work
        here (called once when the worker starts, which then refuses to run)."""

    @abc.abstractmethod
    def capacity(self) -> tuple[int, int]:
        """(total_gb, free_gb) of the pool."""

    @abc.abstractmethod
    def volume_size(self, volume_id: str) -> int | None:
        """The volume's size in bytes; None when it does not exist (complete) here."""

    @abc.abstractmethod
    def snapshot_exists(self, snapshot_id: str) -> bool: ...

    @abc.abstractmethod
    def create_blank(self, volume_id: str, size_gb: int) -> None:
        """A new volume of `size_gb` GiB that reads as zeros (thin: takes no space yet)."""

    @abc.abstractmethod
    def create_from_image(
        self, volume_id: str, size_gb: int, image: Path, image_format: str
    ) -> None:
        """A new volume holding `image` (a local file in `image_format`), grown to
        `size_gb` GiB; ValueError when the image is larger than that."""

    @abc.abstractmethod
    def create_from_snapshot(self, volume_id: str, size_gb: int, snapshot_id: str) -> None:
        """A new volume with the snapshot's data, grown to `size_gb` GiB."""

    @abc.abstractmethod
    def create_from_volume(self, volume_id: str, size_gb: int, source_volume_id: str) -> None:
        """A new volume with a copy of another volume's data (which may be attached)."""

    @abc.abstractmethod
    def delete(self, volume_id: str) -> None:
        """Remove the volume; one that is not there is not an error."""

    @abc.abstractmethod
    def extend(self, volume_id: str, size_gb: int) -> None:
        """Grow the volume to `size_gb` GiB (already that size or larger: nothing to do)."""

    @abc.abstractmethod
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """A point-in-time copy of the volume (crash-consistent when it is attached)."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove the snapshot; one that is not there is not an error."""

    @abc.abstractmethod
    def connection(self, volume_id: str) -> Connection:
        """Where the hypervisor finds the volume; VolumeNotFound when it is not here."""

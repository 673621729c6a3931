"""Where image data lives: a small store interface and the local filesystem store.

The store only moves bytes and hashes them on the way in; it knows nothing of image status,
owners or policy (apps/images/services.py decides when data may be written, kept or dropped).
Which store serves is ``COMPUTECLOUD["IMAGE_STORE"]``, a dotted path to an `ImageStore`.
"""

import hashlib
import logging
import os
import tempfile
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from computecloud.conf import cc_settings

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class StoredData:
    """What a `put` wrote: byte count and the two digests Glance reports."""

    size: int
    md5: str
    sha512: str


class ImageDataNotFound(Exception):
    """The store holds no data for this image."""


class ImageStore(ABC):
    """Contract of an image data store. Every method is keyed by the image id alone."""

    @abstractmethod
    def put(self, image_id: uuid.UUID | str, stream: Readable) -> StoredData:
        """Read `stream` to its end in bounded chunks, never whole, and keep the bytes.

        The data becomes visible under `image_id` only once complete: a failed or interrupted
        put leaves nothing behind and raises. Existing data for the id is replaced.
        """

    @abstractmethod
    def open(self, image_id: uuid.UUID | str) -> BinaryIO:
        """A binary file object positioned at the start; `ImageDataNotFound` if absent."""

    @abstractmethod
    def delete(self, image_id: uuid.UUID | str) -> None:
        """Drop the data; absent data is not an error."""

    def discard_partial(self, image_id: uuid.UUID | str) -> None:
        """Drop what an interrupted `put` left behind when its process died before cleaning
        up (a killed web worker). Only for puts known to be dead: a live one would fail.

        Stores whose puts leave nothing behind keep this default."""
        return

    def local_path(self, image_id: uuid.UUID | str) -> Path | None:
        """A local file path to the data, for tools such as qemu-img; None if the store has
        no local files."""
        return None


class FilesystemStore(ImageStore):
    """One file per image under ``STATE_DIR/images``, written to a temporary file in the same
    directory and renamed into place, so readers see either nothing or the whole image."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or Path(settings.STATE_DIR) / "images")

    def _path(self, image_id: uuid.UUID | str) -> Path:
        # Normalising through UUID keeps any other string out of the path.
        return self.root / str(uuid.UUID(str(image_id)))

    def put(self, image_id: uuid.UUID | str, stream: Readable) -> StoredData:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._path(image_id)
        md5 = hashlib.md5(usedforsecurity=False)
        sha512 = hashlib.sha512()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as tmp:
                while chunk := stream.read(CHUNK_SIZE):
                    tmp.write(chunk)
                    md5.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredData(size=size, md5=md5.hexdigest(), sha512=sha512.hexdigest())

    def open(self, image_id: uuid.UUID | str) -> BinaryIO:
        try:
            return self._path(image_id).open("rb")
        except FileNotFoundError:
            raise ImageDataNotFound(str(image_id)) from None

    def delete(self, image_id: uuid.UUID | str) -> None:
        self._path(image_id).unlink(missing_ok=True)

    def discard_partial(self, image_id: uuid.UUID | str) -> None:
        name = self._path(image_id).name
        for partial in self.root.glob(f".{name}.*.part"):
            partial.unlink(missing_ok=True)

    def local_path(self, image_id: uuid.UUID | str) -> Path | None:
        return self._path(image_id)


def get_store() -> ImageStore:
    """The configured store (built on each call: stores are cheap and settings may change in
    tests)."""
    store_class: type[ImageStore] = import_string(cc_settings.IMAGE_STORE)
    return store_class()

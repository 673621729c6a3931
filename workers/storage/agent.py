"""The storage agent: this host's pool of volumes, as the compute worker asks for them.

It wraps one backend (`StorageConfig.backend`) and adds what every backend shares: the
idempotence of creates (a volume already whole is success, whatever the source), the
payloads' shapes (`computecloud.wire`), and the pool report that goes with heartbeats.
A host with ``VOLUME_BACKEND=none`` has an agent without a backend: it reports no pool and
refuses every volume.
"""

import logging
import time
from pathlib import Path

from computecloud.wire import BlockDevicePayload, StoragePoolPayload, VolumeCreatePayload
from workers.storage.backend import Backend, Connection
from workers.storage.commands import GiB
from workers.storage.config import StorageConfig
from workers.storage.exceptions import StorageError
from workers.storage.file import FileBackend
from workers.storage.lvm import LvmBackend

logger = logging.getLogger(__name__)


def make_backend(config: StorageConfig) -> Backend | None:
    if config.backend == "file":
        return FileBackend(config.path)
    if config.backend == "lvm":
        return LvmBackend(config.volume_group, config.thin_pool)
    return None


class StorageAgent:
    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        self._backend = make_backend(config)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise StorageError("this host keeps no volumes (VOLUME_BACKEND=none)")
        return self._backend

    # --- the pool -------------------------------------------------------------------------------
    def check(self) -> None:
        """At start-up: StorageUnavailable, saying what is missing, when the backend cannot
        work here (the worker refuses to start rather than fail every volume later)."""
        if self._backend is not None:
            self._backend.check()

    def pool(self) -> StoragePoolPayload | None:
        """The pool as heartbeats report it; None when this host keeps no volumes."""
        if self._backend is None:
            return None
        total_gb, free_gb = self._backend.capacity()
        return {
            "backend": self._backend.kind,
            "shared": self.config.shared,
            "total_gb": int(total_gb),
            "free_gb": int(free_gb),
        }

    # --- volumes --------------------------------------------------------------------------------
    def create(
        self, payload: VolumeCreatePayload, image: Path | None = None, image_format: str = "qcow2"
    ) -> None:
        """Make the volume the payload describes; `image` is the local file of its image
        (the caller fetched and verified it) when it has one. A volume already whole here
        (a redelivered task) is success."""
        backend = self._for(payload["backend"])
        volume_id, size_gb = payload["volume_id"], int(payload["size_gb"])
        if size_gb <= 0:
            raise ValueError(f"volume {volume_id}: size {size_gb} GiB")
        started = time.monotonic()
        existing = backend.volume_size(volume_id)
        if existing is not None:
            if existing < size_gb * GiB:
                backend.extend(volume_id, size_gb)
            logger.info("volume %s exists already (%d bytes)", volume_id, existing)
            return
        if payload.get("snapshot_id"):
            backend.create_from_snapshot(volume_id, size_gb, str(payload["snapshot_id"]))
            source = f"snapshot {payload['snapshot_id']}"
        elif payload.get("source_volume_id"):
            backend.create_from_volume(volume_id, size_gb, str(payload["source_volume_id"]))
            source = f"volume {payload['source_volume_id']}"
        elif payload.get("image"):
            if image is None:
                raise ValueError(f"volume {volume_id}: its image's file was not given")
            backend.create_from_image(volume_id, size_gb, image, image_format)
            source = f"image {payload['image']['image_id']}"  # type: ignore[index]
        else:
            backend.create_blank(volume_id, size_gb)
            source = "nothing"
        logger.info(
            "volume %s created (%d GiB, %s) from %s in %.2f s",
            volume_id,
            size_gb,
            backend.kind,
            source,
            time.monotonic() - started,
        )

    def delete(self, volume_id: str, backend: str) -> None:
        self._for(backend).delete(volume_id)
        logger.info("volume %s deleted", volume_id)

    def extend(self, volume_id: str, backend: str, size_gb: int) -> None:
        self._for(backend).extend(volume_id, size_gb)
        logger.info("volume %s extended to %d GiB", volume_id, size_gb)

    def create_snapshot(self, snapshot_id: str, volume_id: str, backend: str) -> None:
        chosen = self._for(backend)
        if chosen.snapshot_exists(snapshot_id):
            return
        chosen.create_snapshot(snapshot_id, volume_id)
        logger.info("snapshot %s of volume %s created", snapshot_id, volume_id)

    def delete_snapshot(self, snapshot_id: str, backend: str) -> None:
        self._for(backend).delete_snapshot(snapshot_id)
        logger.info("snapshot %s deleted", snapshot_id)

    def grown_by_hypervisor_in_use(self, backend: str) -> bool:
        return self._for(backend).grown_by_hypervisor_in_use

    # --- guests ---------------------------------------------------------------------------------
    def connection(self, volume_id: str, backend: str | None = None) -> Connection:
        return self._for(backend).connection(volume_id)

    def connect(self, device: BlockDevicePayload) -> BlockDevicePayload:
        """The block device with where the hypervisor finds it (path, source type, format)."""
        found = self.connection(device["volume_id"], device.get("backend"))
        return {
            **device,
            "path": found.path,
            "source_type": found.source_type,
            "disk_format": found.disk_format,
        }

    def _for(self, backend: str | None) -> Backend:
        """This host's backend, when it is the one the control plane names (or none is)."""
        chosen = self.backend
        if backend and backend != chosen.kind:
            raise StorageError(f"this host keeps {chosen.kind} volumes, not {backend}")
        return chosen

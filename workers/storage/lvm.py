"""Volumes as thin logical volumes in one thin pool (``VOLUME_GROUP``/``VOLUME_THIN_POOL``).

    volume-<id>      a volume: a thin LV, raw data, /dev/<vg>/volume-<id>
    snapshot-<id>    a snapshot: a thin snapshot of the volume (skipped at activation)
    creating-<id>    a create under way (renamed to volume-<id> when whole)

A volume from a snapshot or another volume is itself a thin snapshot of it, activated and
then independent: removing either leaves the other intact (thin snapshots share blocks, not
lifetimes). Images are written with ``qemu-img convert -O raw`` onto the LV.

Thin LVs need the kernel's device-mapper with its thin-pool target: `check` refuses without
it, and without the volume group or its thin pool, saying which.
"""

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from workers.storage.backend import Backend, Connection, checked_id
from workers.storage.commands import GiB, run, virtual_size
from workers.storage.exceptions import (
    SnapshotNotFound,
    StorageError,
    StorageUnavailable,
    VolumeNotFound,
)

logger = logging.getLogger(__name__)

LVM_TIMEOUT_S = 120
TOOLS = ("lvcreate", "lvremove", "lvextend", "lvrename", "lvchange", "lvs", "vgs", "dmsetup")


class LvmBackend(Backend):
    kind = "lvm"

    def __init__(self, volume_group: str, thin_pool: str) -> None:
        self.vg = volume_group
        self.pool = thin_pool

    # --- names ----------------------------------------------------------------------------------
    @staticmethod
    def volume_lv(volume_id: str) -> str:
        return f"volume-{checked_id(volume_id)}"

    @staticmethod
    def snapshot_lv(snapshot_id: str) -> str:
        return f"snapshot-{checked_id(snapshot_id)}"

    @staticmethod
    def creating_lv(volume_id: str) -> str:
        return f"creating-{checked_id(volume_id)}"

    def device(self, lv: str) -> Path:
        return Path("/dev") / self.vg / lv

    # --- pool -----------------------------------------------------------------------------------
    def check(self) -> None:
        problems = []
        missing = [tool for tool in (*TOOLS, "qemu-img") if shutil.which(tool) is None]
        if missing:
            raise StorageUnavailable(
                f"the LVM volume backend needs {', '.join(missing)} (lvm2, dmsetup, qemu-utils)"
            )
        problems.extend(_device_mapper_problems())
        vgs = _report(run("vgs", "--reportformat", "json", "-o", "vg_name", timeout=LVM_TIMEOUT_S))
        if self.vg not in {row["vg_name"] for row in vgs}:
            problems.append(f"volume group {self.vg!r} (VOLUME_GROUP) does not exist")
        else:
            pool = self._lvs().get(self.pool)
            if pool is None or not pool["lv_attr"].startswith("t"):
                problems.append(
                    f"volume group {self.vg!r} has no thin pool {self.pool!r} (VOLUME_THIN_POOL);"
                    f" make one with: lvcreate --type thin-pool -L <size> -n {self.pool} {self.vg}"
                )
        if problems:
            raise StorageUnavailable("the LVM volume backend cannot work: " + "; ".join(problems))

    def capacity(self) -> tuple[int, int]:
        pool = self._lvs().get(self.pool)
        if pool is None:
            raise StorageError(f"thin pool {self.vg}/{self.pool} is gone")
        size = int(pool["lv_size"])
        used = float(pool.get("data_percent") or 0.0) / 100.0
        return size // GiB, int(size * (1.0 - used)) // GiB

    def volume_size(self, volume_id: str) -> int | None:
        lv = self._lvs().get(self.volume_lv(volume_id))
        return int(lv["lv_size"]) if lv is not None else None

    def snapshot_exists(self, snapshot_id: str) -> bool:
        return self.snapshot_lv(snapshot_id) in self._lvs()

    # --- volumes --------------------------------------------------------------------------------
    def create_blank(self, volume_id: str, size_gb: int) -> None:
        # The pool zeroes every block a thin volume is given: new volumes read as zeros.
        creating = self._fresh(volume_id)
        self._create_thin(creating, size_gb)
        self._finish(volume_id)

    def create_from_image(
        self, volume_id: str, size_gb: int, image: Path, image_format: str
    ) -> None:
        size = virtual_size(image, fmt=image_format)
        if size > size_gb * GiB:
            raise ValueError(f"image {image.name} is {size} bytes, more than {size_gb} GiB")
        creating = self._fresh(volume_id)
        self._create_thin(creating, size_gb)
        try:
            # -n: the target exists (the LV); the raw data goes onto it, zeros stay unwritten.
            run("qemu-img", "convert", "-n", "-f", image_format, "-O", "raw", str(image),
                str(self.device(creating)))  # fmt: skip
        except StorageError:
            self._remove(creating)
            raise
        self._finish(volume_id)

    def create_from_snapshot(self, volume_id: str, size_gb: int, snapshot_id: str) -> None:
        origin = self.snapshot_lv(snapshot_id)
        if origin not in self._lvs():
            raise SnapshotNotFound(snapshot_id)
        self._clone(origin, volume_id, size_gb)

    def create_from_volume(self, volume_id: str, size_gb: int, source_volume_id: str) -> None:
        origin = self.volume_lv(source_volume_id)
        if origin not in self._lvs():
            raise VolumeNotFound(source_volume_id)
        self._clone(origin, volume_id, size_gb)

    def delete(self, volume_id: str) -> None:
        lvs = self._lvs()
        for lv in (self.creating_lv(volume_id), self.volume_lv(volume_id)):
            if lv in lvs:
                self._remove(lv)

    def extend(self, volume_id: str, size_gb: int) -> None:
        lv = self.volume_lv(volume_id)
        current = self._lvs().get(lv)
        if current is None:
            raise VolumeNotFound(volume_id)
        if int(current["lv_size"]) < size_gb * GiB:
            self._lvm("lvextend", "-L", f"{size_gb}g", f"{self.vg}/{lv}")

    # --- snapshots ------------------------------------------------------------------------------
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        lvs = self._lvs()
        snapshot, origin = self.snapshot_lv(snapshot_id), self.volume_lv(volume_id)
        if snapshot in lvs:
            return
        if origin not in lvs:
            raise VolumeNotFound(volume_id)
        # No size: a thin snapshot in the origin's pool, atomic and instant.
        self._lvm("lvcreate", "--yes", "-s", "-n", snapshot, f"{self.vg}/{origin}")

    def delete_snapshot(self, snapshot_id: str) -> None:
        lv = self.snapshot_lv(snapshot_id)
        if lv in self._lvs():
            self._remove(lv)

    def connection(self, volume_id: str) -> Connection:
        lv = self.volume_lv(volume_id)
        if lv not in self._lvs():
            raise VolumeNotFound(volume_id)
        if not self.device(lv).exists():  # not active (a host restart without autoactivation)
            self._lvm("lvchange", "-ay", "-K", f"{self.vg}/{lv}")
        return Connection(path=str(self.device(lv)), source_type="block", disk_format="raw")

    # --- internals ------------------------------------------------------------------------------
    def _lvm(self, *cmd: str) -> str:
        # --yes on creates: without a terminal lvm would answer its own questions "no".
        return run(*cmd, timeout=LVM_TIMEOUT_S)

    def _lvs(self) -> dict[str, dict[str, Any]]:
        """The group's logical volumes by name (sizes in bytes)."""
        out = self._lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                        "-o", "lv_name,lv_attr,lv_size,data_percent,pool_lv", self.vg)  # fmt: skip
        return {row["lv_name"]: row for row in _report(out)}

    def _create_thin(self, lv: str, size_gb: int) -> None:
        self._lvm("lvcreate", "--yes", "--type", "thin", "-V", f"{size_gb}g",
                  "--thinpool", self.pool, "-n", lv, self.vg)  # fmt: skip

    def _remove(self, lv: str) -> None:
        self._lvm("lvremove", "-y", f"{self.vg}/{lv}")

    def _fresh(self, volume_id: str) -> str:
        """The temporary LV's name, after removing what an interrupted create left."""
        creating = self.creating_lv(volume_id)
        if creating in self._lvs():
            self._remove(creating)
        return creating

    def _finish(self, volume_id: str) -> None:
        self._lvm("lvrename", self.vg, self.creating_lv(volume_id), self.volume_lv(volume_id))

    def _clone(self, origin: str, volume_id: str, size_gb: int) -> None:
        """A thin snapshot of `origin` as the new volume: active (not skipped), grown."""
        creating = self._fresh(volume_id)
        self._lvm("lvcreate", "--yes", "-s", "--setactivationskip", "n", "-n", creating,
                  f"{self.vg}/{origin}")  # fmt: skip
        try:
            self._lvm("lvchange", "-ay", "-K", f"{self.vg}/{creating}")
            if int(self._lvs()[creating]["lv_size"]) < size_gb * GiB:
                self._lvm("lvextend", "-L", f"{size_gb}g", f"{self.vg}/{creating}")
        except StorageError:
            self._remove(creating)
            raise
        self._finish(volume_id)


def _report(out: str) -> list[dict[str, Any]]:
    """The rows of an LVM JSON report (``{"report": [{"lv": [...]}]}``, or "vg")."""
    rows: list[dict[str, Any]] = []
    for section in json.loads(out).get("report", []):
        for value in section.values():
            rows.extend(value)
    return rows


def _device_mapper_problems() -> list[str]:
    """What the kernel lacks for thin volumes: device-mapper itself, or its thin targets."""
    if not os.path.exists("/dev/mapper/control"):
        return ["the kernel has no device-mapper (/dev/mapper/control is absent)"]
    try:
        targets = run("dmsetup", "targets", timeout=LVM_TIMEOUT_S)
    except StorageError as exc:
        said = str(exc).splitlines()[0]  # dmsetup's first line says it; the rest repeats it
        return [f"the kernel's device-mapper does not answer ({said}); load dm_mod"]
    absent = _absent_thin_targets(targets)
    if absent and shutil.which("modprobe"):
        # Targets load on first use: a host whose pool is not active yet has not loaded them.
        with contextlib.suppress(StorageError):
            run("modprobe", "-q", "dm_thin_pool", timeout=LVM_TIMEOUT_S)
            absent = _absent_thin_targets(run("dmsetup", "targets", timeout=LVM_TIMEOUT_S))
    if absent:
        return [f"device-mapper lacks the {', '.join(absent)} target(s); load dm_thin_pool"]
    return []


def _absent_thin_targets(targets: str) -> list[str]:
    names = {line.split()[0] for line in targets.splitlines() if line.strip()}
    return [t for t in ("thin-pool", "thin") if t not in names]

"""The storage agent's settings. The compute worker builds them from its environment."""

from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("file", "lvm", "none")


@dataclass(frozen=True)
class StorageConfig:
    # "file": qcow2 files under `path`; "lvm": thin LVs in `volume_group`'s `thin_pool`;
    # "none": this host keeps no volumes (its heartbeats say so).
    backend: str = "file"
    path: Path = Path("/var/lib/computecloud/volumes")
    volume_group: str = "computecloud-volumes"
    thin_pool: str = "volumes-pool"
    # Every host sees the same volumes (`path` on NFS): guests anywhere may use them.
    shared: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"VOLUME_BACKEND={self.backend!r}: one of {', '.join(BACKENDS)}")


def storage_config_from_env(env: dict[str, str], instances_path: Path) -> StorageConfig:
    """VOLUME_BACKEND, VOLUME_PATH (default: `volumes` beside the instances directory),
    VOLUME_GROUP, VOLUME_THIN_POOL, VOLUME_SHARED."""
    defaults = StorageConfig()
    return StorageConfig(
        backend=(env.get("VOLUME_BACKEND") or "file").strip().lower(),
        path=Path(env.get("VOLUME_PATH") or instances_path.parent / "volumes"),
        volume_group=env.get("VOLUME_GROUP") or defaults.volume_group,
        thin_pool=env.get("VOLUME_THIN_POOL") or defaults.thin_pool,
        shared=(env.get("VOLUME_SHARED") or "").strip().lower() in {"1", "true", "yes", "on"},
    )

"""The compute worker's settings, from its environment. No database credentials here."""

import importlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from computecloud.broker import RedisTLS
from workers.network.config import NetworkAgentConfig
from workers.storage.config import StorageConfig, storage_config_from_env
from workers.virt.driver import ComputeDriver

# The hypervisor driver when COMPUTE_DRIVER is not set.
DEFAULT_COMPUTE_DRIVER = "workers.virt.libvirt.driver.LibvirtDriver"


@dataclass(frozen=True)
class ComputeConfig:
    host: str
    broker_url: str
    libvirt_uri: str
    virt_type: str
    instances_path: Path
    image_cache_path: Path
    vnc_listen: str
    # Seconds between heartbeats and inventory reports.
    report_interval: int
    # Soft reboot and stop wait this long for the guest's ACPI shutdown before forcing it.
    clean_shutdown_timeout: int
    # Console log files are capped at this many bytes (the oldest half is dropped).
    console_log_max_bytes: int
    # The control plane's base URL (its PUBLIC_URL): the only place this host downloads
    # images from and uploads snapshots and migrated disks to; any other URL a task names is
    # refused before anything is opened (workers/transfer.py).
    control_plane_url: str
    # Cached base images no guest here uses are removed once unused for this many seconds
    # (Nova's remove_unused_original_minimum_age_seconds); checked every
    # image_cache_cleanup_interval seconds.
    image_cache_grace: int = 86400
    image_cache_cleanup_interval: int = 2400
    # Certificates for a rediss:// broker URL (REDIS_TLS_CA, _CERT, _KEY: computecloud/broker.py).
    redis_tls: RedisTLS = field(default_factory=RedisTLS)
    # The hypervisor driver: the dotted path of a ComputeDriver subclass, built with this
    # config (COMPUTE_DRIVER; `load_driver_class` resolves it when the worker starts).
    compute_driver: str = DEFAULT_COMPUTE_DRIVER
    # The host's network agent (workers/network/): names, state files, tunnel address, and
    # where its metadata proxies forward guests (NETWORK_PREFIX, NETWORK_STATE_DIR,
    # TUNNEL_IP, METADATA_URL, METADATA_SHARED_SECRET).
    network: NetworkAgentConfig = field(default_factory=NetworkAgentConfig)
    # The host's storage agent (workers/storage/): its pool of volumes (VOLUME_BACKEND,
    # VOLUME_PATH, VOLUME_GROUP, VOLUME_THIN_POOL, VOLUME_SHARED).
    storage: StorageConfig = field(default_factory=StorageConfig)
    # Seconds a guest has to let go of a volume being detached (the request is repeated
    # meanwhile: a guest still booting ignores it); beyond, the detach fails.
    volume_detach_timeout: int = 120

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "ComputeConfig":
        env = dict(os.environ if env is None else env)
        instances_path = Path(env.get("INSTANCES_PATH", "/var/lib/computecloud/instances"))
        broker = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL")
        if not broker:
            raise RuntimeError("the compute worker needs REDIS_URL (or CELERY_BROKER_URL)")
        return cls(
            host=env.get("COMPUTE_HOST") or socket.gethostname().split(".")[0],
            broker_url=broker,
            libvirt_uri=env.get("LIBVIRT_URI", "qemu:///system"),
            virt_type=env.get("VIRT_TYPE", "qemu"),
            instances_path=instances_path,
            image_cache_path=Path(env.get("IMAGE_CACHE_PATH", "/var/lib/computecloud/image-cache")),
            vnc_listen=env.get("VNC_LISTEN", "127.0.0.1"),
            report_interval=int(env.get("REPORT_INTERVAL", "10")),
            clean_shutdown_timeout=int(env.get("CLEAN_SHUTDOWN_TIMEOUT", "60")),
            console_log_max_bytes=int(env.get("CONSOLE_LOG_MAX_BYTES", str(1024 * 1024))),
            control_plane_url=(
                env.get("CONTROL_PLANE_URL") or env.get("PUBLIC_URL") or "http://127.0.0.1:8000"
            ),
            image_cache_grace=int(env.get("IMAGE_CACHE_GRACE", "86400")),
            image_cache_cleanup_interval=int(env.get("IMAGE_CACHE_CLEANUP_INTERVAL", "2400")),
            redis_tls=RedisTLS.from_env(env),
            compute_driver=env.get("COMPUTE_DRIVER") or DEFAULT_COMPUTE_DRIVER,
            network=network_config_from_env(env),
            storage=storage_config_from_env(env, instances_path),
            volume_detach_timeout=int(env.get("VOLUME_DETACH_TIMEOUT", "120")),
        )


def network_config_from_env(env: dict[str, str]) -> NetworkAgentConfig:
    metadata_url = env.get("METADATA_URL") or (
        f"http://{env.get('METADATA_HOST', '127.0.0.1')}:{env.get('METADATA_PORT', '8775')}"
    )
    return NetworkAgentConfig(
        prefix=env.get("NETWORK_PREFIX") or "cc",
        state_dir=Path(env.get("NETWORK_STATE_DIR") or "/run/computecloud/network"),
        tunnel_ip=env.get("TUNNEL_IP") or None,
        metadata_url=metadata_url,
        metadata_shared_secret=env.get("METADATA_SHARED_SECRET", ""),
    )


DriverFactory = Callable[[ComputeConfig], ComputeDriver]


def load_driver_class(path: str) -> DriverFactory:
    """The `ComputeDriver` subclass that `path` (``package.module.Class``) names.

    Raises RuntimeError saying what is wrong with the setting: the worker refuses to start
    rather than take tasks it cannot run.
    """
    module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name:
        raise RuntimeError(f"COMPUTE_DRIVER={path!r} is not a dotted path (package.module.Class)")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure to import is the same refusal, with its reason
        raise RuntimeError(f"COMPUTE_DRIVER={path!r}: cannot import {module_name}: {exc}") from exc
    driver_class = getattr(module, class_name, None)
    if driver_class is None:
        raise RuntimeError(f"COMPUTE_DRIVER={path!r}: {module_name} has no {class_name}")
    if not (isinstance(driver_class, type) and issubclass(driver_class, ComputeDriver)):
        raise RuntimeError(f"COMPUTE_DRIVER={path!r} is not a ComputeDriver subclass")
    # ComputeDriver declares no constructor; every driver is built from the worker's config.
    return cast(DriverFactory, driver_class)

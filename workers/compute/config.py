"""The compute worker's settings, from its environment. No database credentials here."""

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from computecloud.broker import RedisTLS


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "ComputeConfig":
        env = dict(os.environ if env is None else env)
        broker = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL")
        if not broker:
            raise RuntimeError("the compute worker needs REDIS_URL (or CELERY_BROKER_URL)")
        return cls(
            host=env.get("COMPUTE_HOST") or socket.gethostname().split(".")[0],
            broker_url=broker,
            libvirt_uri=env.get("LIBVIRT_URI", "qemu:///system"),
            virt_type=env.get("VIRT_TYPE", "qemu"),
            instances_path=Path(env.get("INSTANCES_PATH", "/var/lib/computecloud/instances")),
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
        )

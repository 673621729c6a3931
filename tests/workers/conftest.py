"""Fixtures for the virt layer's fast tests: libvirt's built-in test:///default hypervisor,
a real HTTP server serving real qcow2 images, and instance specs.

test:///default keeps its domains in memory, shared by every connection of this process, so
the `driver` fixture destroys every guest it can see when a test ends.
"""

import contextlib
import dataclasses
import hashlib
import http.server
import json
import os
import subprocess
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_env import with_db
from workers.compute.config import ComputeConfig
from workers.virt.driver import ImageSource, InstanceSpec
from workers.virt.libvirt.driver import LibvirtDriver

TEST_URI = "test:///default"


@dataclasses.dataclass(frozen=True)
class ServedImage:
    path: Path
    url: str
    md5: str
    sha512: str
    size: int

    def source(self, image_id: str | None = None, **changes: Any) -> ImageSource:
        """An ImageSource as the control plane would send it for this file."""
        values: dict[str, Any] = {
            "image_id": image_id or str(uuid.uuid4()),
            "url": self.url,
            "checksum": self.md5,
            "os_hash_algo": "sha512",
            "os_hash_value": self.sha512,
            "size": self.size,
            "disk_format": "qcow2",
        }
        values.update(changes)
        return ImageSource(**values)


class ImageServer:
    """A real HTTP server on 127.0.0.1 serving files from ``root``; counts GETs per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(server.root), **kwargs)

            def do_GET(self) -> None:
                server.requests[self.path.split("?", 1)[0]] += 1
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest's output clean

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "ImageServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, relative: str) -> str:
        return f"{self.base_url}/{relative}"

    def serve(self, path: Path, *, as_name: str | None = None) -> ServedImage:
        """Publish ``path`` (hard-linked or copied under root) and describe it."""
        name = as_name or path.name
        target = self.root / name
        if target != path:
            target.write_bytes(path.read_bytes())
        data = target.read_bytes()
        return ServedImage(
            path=target,
            url=self.url(name) + "?token=secret-signature",
            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            sha512=hashlib.sha512(data).hexdigest(),
            size=len(data),
        )


def origin(url: str) -> str:
    """The scheme://host:port of `url`: the control plane URL a host would be given."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def make_qcow2(path: Path, *, size_mib: int = 16, pattern: int = 0x5A) -> Path:
    """A small qcow2 whose first MiB holds ``pattern`` bytes (so copies can be checked)."""
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(path), f"{size_mib}M"], check=True
    )
    write_pattern(path, pattern, offset=0, length=1024 * 1024)
    return path


def write_pattern(path: Path, pattern: int, *, offset: int, length: int) -> None:
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern:#x} {offset} {length}", str(path)],
        check=True,
        capture_output=True,
    )


def has_pattern(path: Path, pattern: int, *, offset: int, length: int) -> bool:
    """Whether the guest-visible bytes at ``offset`` are all ``pattern`` (qemu-io read -P)."""
    result = subprocess.run(
        [
            "qemu-io",
            "-r",
            "-U",
            "-f",
            "qcow2",
            "-c",
            f"read -P {pattern:#x} {offset} {length}",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return "Pattern verification failed" not in result.stdout


def qemu_img_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info: dict[str, Any] = json.loads(out)
    return info


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[ImageServer]:
    root = tmp_path / "served"
    root.mkdir()
    with ImageServer(root) as server:
        yield server


@pytest.fixture
def served_image(image_server: ImageServer, tmp_path: Path) -> ServedImage:
    """A 16 MiB qcow2 (first MiB 0x5a) served over HTTP."""
    return image_server.serve(make_qcow2(tmp_path / "base.qcow2"), as_name="base.qcow2")


def make_config(tmp_path: Path, name: str = "host-a", **changes: Any) -> ComputeConfig:
    values: dict[str, Any] = {
        "host": name,
        "broker_url": with_db(os.environ["REDIS_URL"], 7),
        "libvirt_uri": TEST_URI,
        "virt_type": "qemu",
        "instances_path": tmp_path / name / "instances",
        "image_cache_path": tmp_path / name / "image-cache",
        "vnc_listen": "127.0.0.1",
        "report_interval": 10,
        "clean_shutdown_timeout": 5,
        "console_log_max_bytes": 64 * 1024,
        # Nothing listens there: tests that download pass their image server's URL.
        "control_plane_url": "http://127.0.0.1:9",
    }
    values.update(changes)
    return ComputeConfig(**values)


@contextlib.contextmanager
def running_driver(config: ComputeConfig) -> Iterator[LibvirtDriver]:
    """An initialised driver; guests that appeared while the block ran are destroyed when
    it ends (others' guests on the shared in-memory hypervisor are left alone)."""
    driver = LibvirtDriver(config)
    driver.init_host()
    before = set(driver.list_instance_uuids())
    try:
        yield driver
    finally:
        driver.register_event_listener(None)
        for instance_uuid in set(driver.list_instance_uuids()) - before:
            driver.destroy(instance_uuid)
        driver.cleanup_host()


@pytest.fixture
def driver(tmp_path: Path, image_server: ImageServer) -> Iterator[LibvirtDriver]:
    with running_driver(make_config(tmp_path, control_plane_url=image_server.base_url)) as drv:
        yield drv


@pytest.fixture
def make_instance() -> Callable[..., InstanceSpec]:
    """Build an InstanceSpec with a fresh uuid; keyword arguments override fields."""

    def make(**changes: Any) -> InstanceSpec:
        instance_uuid = str(uuid.uuid4())
        values: dict[str, Any] = {
            "uuid": instance_uuid,
            "name": f"vm-{instance_uuid[:8]}",
            "hostname": f"vm-{instance_uuid[:8]}",
            "memory_mb": 256,
            "vcpus": 1,
            "root_gb": 1,
            "flavor_name": "m1.tiny",
            "image_id": str(uuid.uuid4()),
            "image_meta": {"disk_format": "qcow2", "container_format": "bare", "properties": {}},
            "config_drive": True,
            "project_id": "p-" + uuid.uuid4().hex[:8],
            "user_id": "u-" + uuid.uuid4().hex[:8],
        }
        values.update(changes)
        return InstanceSpec(**values)

    return make

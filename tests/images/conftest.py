"""Image test fixtures: a private image store per test, and helpers that create images through
the services (set-up only: behaviour is exercised through the API)."""

import hashlib
import inspect
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.urls import Resolver404, resolve
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.images import services
from apps.images.models import Image
from apps.images.store import FilesystemStore
from tests.conftest import Caller

IMAGES = "/image/v2/images"
PATCH = "application/openstack-images-v2.1-json-patch"
CREATE_ARGUMENTS = set(inspect.signature(services.create_image).parameters) - {"properties"}


@pytest.fixture(autouse=True)
def image_state_dir(settings: SettingsWrapper, tmp_path: Path) -> Path:
    """Image data goes under this test's own directory."""
    settings.STATE_DIR = tmp_path / "state"
    return settings.STATE_DIR / "images"


@pytest.fixture(autouse=True)
def image_root_route(settings: SettingsWrapper) -> None:
    """Serve ``/image`` (no slash) even while the shared URLconf does not."""
    try:
        resolve("/image")
    except Resolver404:
        settings.ROOT_URLCONF = "tests.images.urls"


@pytest.fixture
def store() -> FilesystemStore:
    return FilesystemStore()


@pytest.fixture
def make_image() -> Callable[..., Image]:
    """A queued image owned by `caller`'s project (or an active one, given `data`)."""

    def make(caller: Caller, *, data: bytes | None = None, **attrs: Any) -> Image:
        attrs.setdefault("name", "img")
        attrs.setdefault("disk_format", "raw")
        attrs.setdefault("container_format", "bare")
        base = {key: attrs.pop(key) for key in list(attrs) if key in CREATE_ARGUMENTS}
        image = services.create_image(owner=caller.project, properties=attrs, **base)
        if data is not None:
            image = services.upload_image_data(image=image, stream=_BytesReader(data))
        return image

    return make


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = bytes(self._data[self._pos : end])
        self._pos += len(chunk)
        return chunk


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def qemu_img_create(path: Path, *, size: str = "16M", backing: Path | None = None) -> Path:
    command = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if backing is not None:
        command += ["-b", str(backing), "-F", "raw"]
    subprocess.run([*command, str(path), size], check=True)
    return path

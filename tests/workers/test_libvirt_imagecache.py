"""The per-host image cache: real downloads from a real HTTP server, real checksums, real
qemu-img inspection, real threads racing for the same image."""

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.workers.conftest import ImageServer, ServedImage, make_qcow2, qemu_img_info
from workers.transfer import ControlPlane
from workers.virt import exceptions
from workers.virt.driver import ImageSource
from workers.virt.libvirt.imagecache import ImageCache


@pytest.fixture
def cache(tmp_path: Path, image_server: ImageServer) -> ImageCache:
    return ImageCache(
        tmp_path / "cache", control_plane=ControlPlane.from_url(image_server.base_url)
    )


def _cache_files(cache: ImageCache) -> list[str]:
    return sorted(p.name for p in cache.path.iterdir() if p.is_file())


def test_fetch_downloads_verifies_and_installs_a_base(
    cache: ImageCache, served_image: ServedImage
) -> None:
    # given
    image = served_image.source()

    # when
    base = cache.fetch(image)

    # then
    assert base == cache.base_path(image) == cache.path / f"sha512-{served_image.sha512}"
    assert base.read_bytes() == served_image.path.read_bytes()
    assert base.stat().st_mode & 0o777 == 0o644
    assert _cache_files(cache) == [base.name]


def test_concurrent_fetches_download_once(
    cache: ImageCache, served_image: ServedImage, image_server: ImageServer
) -> None:
    # given: eight threads released at once
    image = served_image.source()
    barrier = threading.Barrier(8)
    results: list[Path] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        barrier.wait()
        try:
            results.append(cache.fetch(image))
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(8)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert errors == []
    assert set(results) == {cache.base_path(image)}
    assert image_server.requests["/base.qcow2"] == 1


def test_a_cached_image_is_not_downloaded_again(
    cache: ImageCache, served_image: ServedImage, image_server: ImageServer
) -> None:
    # given
    image = served_image.source()
    cache.fetch(image)

    # when
    cache.fetch(image)

    # then
    assert image_server.requests["/base.qcow2"] == 1


@pytest.mark.parametrize(
    ("change", "algorithm"),
    [
        ({"checksum": "0" * 32}, "md5"),
        ({"os_hash_value": "f" * 128}, "sha512"),
        ({"size": 12345}, "size"),
    ],
)
def test_checksum_mismatch_raises_and_caches_nothing(
    cache: ImageCache, served_image: ServedImage, change: dict[str, Any], algorithm: str
) -> None:
    # given
    image = served_image.source(**change)

    # when
    with pytest.raises(exceptions.ImageChecksumMismatch, match=algorithm):
        cache.fetch(image)

    # then
    assert _cache_files(cache) == []


def test_an_image_without_any_checksum_is_refused(
    cache: ImageCache, served_image: ServedImage
) -> None:
    with pytest.raises(exceptions.ImageUnacceptable, match="no secure hash"):
        cache.fetch(served_image.source(checksum=None, os_hash_value=None))
    with pytest.raises(exceptions.ImageUnacceptable, match="no secure hash"):
        cache.fetch(served_image.source(os_hash_value=None))  # md5 alone is not enough
    with pytest.raises(exceptions.ImageUnacceptable, match="no secure hash"):
        cache.fetch(served_image.source(os_hash_algo="md5", os_hash_value="0" * 32))


def test_missing_image_data_raises_download_failed_without_leaking_the_token(
    cache: ImageCache, image_server: ImageServer
) -> None:
    # given
    image = ImageSource(
        image_id=str(uuid.uuid4()),
        url=image_server.url("nothing-here.qcow2") + "?token=very-secret",
        checksum="0" * 32,
        os_hash_value="0" * 128,
    )

    # when
    with pytest.raises(exceptions.ImageDownloadFailed) as raised:
        cache.fetch(image)

    # then
    assert "404" in str(raised.value)
    assert "very-secret" not in str(raised.value)
    assert _cache_files(cache) == []


def test_raw_images_are_converted_to_qcow2(
    cache: ImageCache, image_server: ImageServer, tmp_path: Path
) -> None:
    # given
    raw = tmp_path / "plain.raw"
    raw.write_bytes(b"\xab" * 1024 * 1024)
    served = image_server.serve(raw)

    # when
    base = cache.fetch(served.source(disk_format="raw"))

    # then
    info = qemu_img_info(base)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 1024 * 1024


def test_an_image_whose_data_is_not_its_disk_format_is_refused(
    cache: ImageCache, served_image: ServedImage
) -> None:
    # given: qcow2 data declared raw (a qcow2 could point at a host file as backing file)
    image = served_image.source(disk_format="raw")

    # when
    with pytest.raises(exceptions.ImageUnacceptable, match="its data is qcow2"):
        cache.fetch(image)

    # then
    assert _cache_files(cache) == []


def test_a_qcow2_with_a_backing_file_is_refused(
    cache: ImageCache, image_server: ImageServer, tmp_path: Path
) -> None:
    # given
    secret = tmp_path / "host-secret.raw"
    secret.write_bytes(b"secret" * 1000)
    evil = tmp_path / "evil.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(secret), "-F", "raw", str(evil)],
        check=True,
    )
    served = image_server.serve(evil)

    # when
    with pytest.raises(exceptions.ImageUnacceptable, match="backing file"):
        cache.fetch(served.source())

    # then
    assert _cache_files(cache) == []


def test_unsupported_disk_formats_are_refused(cache: ImageCache, served_image: ServedImage) -> None:
    with pytest.raises(exceptions.ImageUnacceptable, match="vmdk"):
        cache.fetch(served_image.source(disk_format="vmdk"))


def test_container_images_cannot_be_booted(cache: ImageCache, served_image: ServedImage) -> None:
    with pytest.raises(exceptions.ImageUnacceptable, match="ova"):
        cache.fetch(served_image.source(container_format="ova"))


def test_cleanup_removes_only_unused_bases_past_their_age(
    cache: ImageCache, image_server: ImageServer, tmp_path: Path
) -> None:
    # given: three cached images; one in use, one used recently, one old and unused
    images = {}
    for pattern, name in enumerate(("in-use", "recent", "old"), start=1):
        served = image_server.serve(make_qcow2(tmp_path / f"{name}.qcow2", pattern=pattern))
        images[name] = cache.fetch(served.source())
    an_hour_ago = time.time() - 3600
    for name in ("in-use", "old"):
        os.utime(images[name], (an_hour_ago, an_hour_ago))
    stale_part = cache.path / ".deadbeef.abc123.part"
    stale_part.write_bytes(b"half a download")
    os.utime(stale_part, (an_hour_ago, an_hour_ago))

    # when
    removed = cache.cleanup([images["in-use"]], min_unused_age=600)

    # then
    assert sorted(removed) == sorted([images["old"], stale_part])
    assert images["in-use"].exists()
    assert images["recent"].exists()
    assert not images["old"].exists()


def test_bases_are_named_by_content_whatever_the_image_id(
    cache: ImageCache, served_image: ServedImage
) -> None:
    # when
    base = cache.fetch(served_image.source(image_id="../../etc/passwd"))

    # then
    assert base.parent == cache.path
    assert base.name == f"sha512-{served_image.sha512}"


def test_virtual_size_is_read_once_per_base_file(
    cache: ImageCache, served_image: ServedImage, tmp_path: Path
) -> None:
    # given: a cached base, its size read once
    base = cache.fetch(served_image.source())
    first = cache.virtual_size(base)
    # when: the file is replaced by another image (a new file, as a new download would be)
    os.replace(make_qcow2(tmp_path / "bigger.qcow2", size_mib=32), base)
    # then: the size is that of the file now there, and asking again reads nothing new
    assert first == qemu_img_info(served_image.path)["virtual-size"]
    assert cache.virtual_size(base) == 32 * 1024 * 1024
    assert len(cache._virtual_sizes) == 2

"""Big images stream through a real HTTP server: neither the upload nor the download holds the
image in memory (Python allocations measured with tracemalloc across client and server
threads of this process)."""

import hashlib
import os
import tracemalloc

import pytest
import requests

IMAGE_SIZE = 50 * 1024 * 1024
# Chunked I/O keeps a few MiB alive at a time (request buffers, a store chunk, hashing);
# holding the image would be over 50 MiB.
MEMORY_BOUND = 12 * 1024 * 1024


class GeneratedImage:
    """`size` bytes made on demand from one random block: a file-like body with a length, so
    requests streams it with a Content-Length instead of reading it whole."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._sent = 0
        self._block = os.urandom(1024 * 1024 + 7)  # odd length: chunks do not line up
        self.sha512 = hashlib.sha512()

    def __len__(self) -> int:
        return self._size - self._sent

    def read(self, size: int = -1) -> bytes:
        size = min(self._size - self._sent, len(self._block) if size < 0 else size)
        offset = self._sent % len(self._block)
        chunk = (self._block[offset:] + self._block[:offset])[:size]
        self._sent += len(chunk)
        self.sha512.update(chunk)
        return chunk


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_50_mib_image_streams_up_and_down_without_being_held_in_memory(
    live_server, member, make_image
):
    # given
    image = make_image(member)
    url = f"{live_server.url}/image/v2/images/{image.pk}/file"
    headers = {"X-Auth-Token": member.token}
    body = GeneratedImage(IMAGE_SIZE)
    tracemalloc.start()
    try:
        # when
        uploaded = requests.put(
            url,
            data=body,
            headers={**headers, "Content-Type": "application/octet-stream"},
            timeout=300,
        )
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        downloaded = hashlib.sha512()
        received = 0
        with requests.get(url, headers=headers, stream=True, timeout=300) as response:
            status = response.status_code
            for chunk in response.iter_content(chunk_size=1024 * 1024):
                downloaded.update(chunk)
                received += len(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then
    assert uploaded.status_code == 204, uploaded.text
    assert status == 200
    assert received == IMAGE_SIZE
    assert downloaded.hexdigest() == body.sha512.hexdigest()
    shown = requests.get(
        f"{live_server.url}/image/v2/images/{image.pk}", headers=headers, timeout=30
    ).json()
    assert shown["size"] == IMAGE_SIZE
    assert shown["os_hash_value"] == body.sha512.hexdigest()
    assert upload_peak < MEMORY_BOUND, f"upload peaked at {upload_peak / 2**20:.1f} MiB"
    assert download_peak < MEMORY_BOUND, f"download peaked at {download_peak / 2**20:.1f} MiB"

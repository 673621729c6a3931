"""Issue 13: what a compute host does with the image URLs and image data it is sent.

Item 6b: a host downloads and uploads image data only to and from the control plane's
base URL (``CONTROL_PLANE_URL``); a task naming ``file://``, another host or another port is
refused before anything is opened, redirects included. Signed URLs are checked by the API
(signature over purpose, image id and expiry).
"""

import base64
import http.server
import io
import json
import logging
import os
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from tests.cloud import Cloud, forget_hosts, tiny_qcow2
from tests.harness import SERVICE_DOWN_TIME, CloudProcesses, purge_broker, wait_until
from tests.workers.conftest import (
    ImageServer,
    ServedImage,
    make_config,
    make_qcow2,
    running_driver,
    write_pattern,
)
from workers.compute.config import ComputeConfig
from workers.compute.manager import ComputeManager
from workers.network.agent import NetworkAgent
from workers.transfer import ControlPlane, UrlRefused, download, upload
from workers.virt import exceptions
from workers.virt.driver import InstanceSpec
from workers.virt.libvirt import diskinspect, qemuimg
from workers.virt.libvirt.driver import LibvirtDriver
from workers.virt.libvirt.imagecache import ImageCache

# --- fixtures -------------------------------------------------------------------------------


class RecordingServer:
    """A real HTTP server that records every request and answers GET with a redirect to
    `redirect_to` (when set) or 404, and PUT with 204: the "elsewhere" a host must never
    reach."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.requests: list[tuple[str, str]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append(("GET", self.path))
                if recorder.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", recorder.redirect_to)
                else:
                    self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.requests.append(("PUT", self.path))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.redirect_to = redirect_to
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "RecordingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def plane_server(tmp_path: Path) -> Iterator[ImageServer]:
    """The control plane, as far as a host sees it: an HTTP server with image files."""
    root = tmp_path / "served"
    root.mkdir()
    with ImageServer(root) as server:
        yield server


@pytest.fixture
def plane_image(plane_server: ImageServer, tmp_path: Path) -> ServedImage:
    return plane_server.serve(make_qcow2(tmp_path / "base.qcow2"), as_name="base.qcow2")


def new_instance(**changes: Any) -> InstanceSpec:
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
        "config_drive": False,
        "project_id": "p-" + uuid.uuid4().hex[:8],
        "user_id": "u-" + uuid.uuid4().hex[:8],
    }
    values.update(changes)
    return InstanceSpec(**values)


@pytest.fixture
def elsewhere() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def control_plane(plane_server: ImageServer) -> ControlPlane:
    return ControlPlane.from_url(plane_server.base_url)


@pytest.fixture
def cache(tmp_path: Path, control_plane: ControlPlane) -> ImageCache:
    return ImageCache(tmp_path / "cache", control_plane=control_plane)


def _cache_entries(cache: ImageCache) -> list[str]:
    if not cache.path.is_dir():
        return []
    return sorted(p.name for p in cache.path.iterdir() if p.name != ".locks")


def _elsewhere_url(server: RecordingServer, served: ServedImage) -> str:
    """The served image's URL with the host and port of `server` instead."""
    parts = urllib.parse.urlsplit(served.url)
    return urllib.parse.urlunsplit(
        parts._replace(netloc=urllib.parse.urlsplit(server.base_url).netloc)
    )


# --- 6b: downloads come from the control plane only -----------------------------------------


def test_an_image_url_naming_a_host_file_is_refused(
    cache: ImageCache, plane_image: ServedImage
) -> None:
    # given: a host file whose checksums the attacker knows, named by a file:// URL
    image = plane_image.source(url=plane_image.path.as_uri())

    # when / then
    with pytest.raises(exceptions.ImageDownloadFailed, match="not under the control plane"):
        cache.fetch(image)
    assert _cache_entries(cache) == []


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(lambda p, other: p._replace(netloc=other), id="another-port"),
        pytest.param(
            lambda p, other: p._replace(netloc="localhost:" + other.split(":")[1]),
            id="another-host-name",
        ),
        pytest.param(lambda p, other: p._replace(scheme="https"), id="another-scheme"),
        pytest.param(lambda p, other: p._replace(scheme="ftp"), id="ftp"),
        pytest.param(lambda p, other: p._replace(netloc="user:pw@" + p.netloc), id="credentials"),
    ],
)
def test_an_image_url_outside_the_control_plane_is_refused_before_any_request(
    cache: ImageCache,
    plane_image: ServedImage,
    plane_server: ImageServer,
    elsewhere: RecordingServer,
    rewrite: Callable[[Any, str], Any],
) -> None:
    # given
    other = urllib.parse.urlsplit(elsewhere.base_url).netloc
    url = urllib.parse.urlunsplit(rewrite(urllib.parse.urlsplit(plane_image.url), other))
    image = plane_image.source(url=url)

    # when / then
    with pytest.raises(exceptions.ImageDownloadFailed, match="not under the control plane"):
        cache.fetch(image)
    assert elsewhere.requests == []
    assert sum(plane_server.requests.values()) == 0
    assert _cache_entries(cache) == []


def test_a_redirect_away_from_the_control_plane_is_not_followed(
    tmp_path: Path, plane_image: ServedImage, elsewhere: RecordingServer
) -> None:
    # given: the "control plane" answers with a redirect to another server
    target = _elsewhere_url(elsewhere, plane_image)
    with RecordingServer(redirect_to=target) as redirecting:
        cache = ImageCache(
            tmp_path / "cache", control_plane=ControlPlane.from_url(redirecting.base_url)
        )
        image = plane_image.source(url=f"{redirecting.base_url}/image/v2/images/x/file?sig=s")

        # when / then
        with pytest.raises(exceptions.ImageDownloadFailed, match="not under the control plane"):
            cache.fetch(image)
        assert [method for method, _ in redirecting.requests] == ["GET"]
    assert elsewhere.requests == []
    assert _cache_entries(cache) == []


def test_a_control_plane_url_with_a_base_path_confines_transfers_to_it(
    plane_image: ServedImage, plane_server: ImageServer, tmp_path: Path
) -> None:
    control_plane = ControlPlane.from_url(plane_server.base_url + "/cloud")
    for url in (plane_image.url, plane_server.base_url + "/cloud/../base.qcow2"):
        with pytest.raises(UrlRefused):
            download(url, tmp_path / "out", control_plane=control_plane, timeout=5)
    assert not (tmp_path / "out").exists()
    assert sum(plane_server.requests.values()) == 0


@pytest.mark.parametrize(
    "base_url", ["file:///var/lib", "ftp://127.0.0.1", "http://", "http://u:p@127.0.0.1:8000"]
)
def test_a_worker_does_not_start_with_a_control_plane_url_that_is_not_plain_http(
    tmp_path: Path, base_url: str
) -> None:
    config = make_config(tmp_path, control_plane_url=base_url)
    with pytest.raises(ValueError, match="control plane URL"):
        LibvirtDriver(config)


def test_the_control_plane_url_defaults_to_the_public_url() -> None:
    env = {"REDIS_URL": "redis://127.0.0.1:6379/8", "PUBLIC_URL": "https://cloud.example:8443"}
    assert ComputeConfig.from_env(env).control_plane_url == "https://cloud.example:8443"
    env["CONTROL_PLANE_URL"] = "http://10.0.0.1:8000"
    assert ComputeConfig.from_env(env).control_plane_url == "http://10.0.0.1:8000"


# --- 6b: uploads and migration downloads go to the control plane only ------------------------


@pytest.fixture
def manager(
    tmp_path: Path, plane_server: ImageServer
) -> Iterator[tuple[ComputeManager, LibvirtDriver]]:
    config = make_config(tmp_path, control_plane_url=plane_server.base_url)
    app = Celery("security-tests", broker="memory://")
    with running_driver(config) as driver:
        yield ComputeManager(config, driver, app, NetworkAgent(config.network)), driver


@pytest.fixture
def guest(manager: tuple[ComputeManager, LibvirtDriver], plane_image: ServedImage) -> InstanceSpec:
    instance = new_instance()
    manager[1].spawn(instance, plane_image.source())
    return instance


def test_a_snapshot_is_never_written_to_a_host_file(
    manager: tuple[ComputeManager, LibvirtDriver], guest: InstanceSpec, tmp_path: Path
) -> None:
    # given: an upload URL naming a file on the host
    target = tmp_path / "planted" / "authorized_keys"
    target.parent.mkdir()
    payload = {
        "server_uuid": guest.uuid,
        "image_id": str(uuid.uuid4()),
        "upload_url": target.as_uri(),
        "action": "createImage",
    }

    # when
    manager[0].snapshot_server(payload)

    # then
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_a_snapshot_is_never_sent_to_another_server(
    manager: tuple[ComputeManager, LibvirtDriver],
    guest: InstanceSpec,
    elsewhere: RecordingServer,
) -> None:
    payload = {
        "server_uuid": guest.uuid,
        "image_id": str(uuid.uuid4()),
        "upload_url": f"{elsewhere.base_url}/image/v2/images/x/file?sig=s",
    }
    manager[0].snapshot_server(payload)
    assert elsewhere.requests == []


def test_a_resized_disk_is_never_sent_to_another_server(
    manager: tuple[ComputeManager, LibvirtDriver],
    guest: InstanceSpec,
    elsewhere: RecordingServer,
) -> None:
    payload = {
        "server_uuid": guest.uuid,
        "migration_uuid": str(uuid.uuid4()),
        "transfer_image_id": str(uuid.uuid4()),
        "upload_url": f"{elsewhere.base_url}/image/v2/images/x/file?sig=s",
    }
    manager[0].resize_server(payload)
    assert elsewhere.requests == []


def test_a_migration_never_fetches_a_host_file_as_a_disk(
    manager: tuple[ComputeManager, LibvirtDriver], tmp_path: Path
) -> None:
    # given: a "disk" that is a file of the host, named by a file:// URL
    secret = make_qcow2(tmp_path / "another-guests-disk.qcow2")
    instance = new_instance()
    payload = {
        "instance": json.loads(json.dumps(instance.to_payload())),
        "migration_uuid": str(uuid.uuid4()),
        "transfer_image_id": None,
        "disk_url": secret.as_uri(),
        "image": None,
    }
    # when
    manager[0].finish_resize(payload)
    # then
    driver = manager[1]
    assert not driver.instance_exists(instance.uuid)
    assert not (driver.config.instances_path / instance.uuid).exists()


def test_upload_refuses_a_file_url_before_opening_it(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    source = tmp_path / "disk"
    source.write_bytes(b"guest data")
    target = tmp_path / "target"
    with pytest.raises(UrlRefused):
        upload(target.as_uri(), source, control_plane=control_plane, timeout=5)
    assert not target.exists()


# --- 6b: the API checks signed URLs ---------------------------------------------------------


@pytest.fixture
def signed_image(member: Any) -> Any:
    from apps.images import services

    return services.create_image(
        owner=member.project, name="s", disk_format="raw", container_format="bare"
    )


def _path_and_query(url: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    return parts.path, dict(urllib.parse.parse_qsl(parts.query))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda q: {**q, "sig": q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")},
            id="signature",
        ),
        pytest.param(
            lambda q: {**q, "expires": str(int(q["expires"]) + 86400)}, id="expiry-extended"
        ),
        pytest.param(lambda q: {k: v for k, v in q.items() if k != "expires"}, id="no-expiry"),
    ],
)
def test_a_tampered_signed_upload_url_is_refused_and_uploads_nothing(
    anonymous: Any, signed_image: Any, tamper: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    from apps.images import services
    from apps.images.models import Image

    path, query = _path_and_query(services.signed_upload_url(image_id=signed_image.pk))
    response = anonymous.put(
        f"{path}?{urllib.parse.urlencode(tamper(query))}",
        b"evil disk",
        content_type="application/octet-stream",
    )
    assert response.status_code == 403
    image = Image.objects.get(pk=signed_image.pk)
    assert (image.status, image.size, image.checksum) == ("queued", None, None)


@pytest.mark.django_db
def test_an_expired_signed_upload_url_is_refused(anonymous: Any, signed_image: Any) -> None:
    from apps.images import services
    from apps.images.models import Image

    url = services.signed_upload_url(image_id=signed_image.pk, ttl=-1)
    path, query = _path_and_query(url)
    assert int(query["expires"]) < time.time()
    response = anonymous.put(
        f"{path}?{urllib.parse.urlencode(query)}", b"late", content_type="application/octet-stream"
    )
    assert response.status_code == 403
    assert Image.objects.get(pk=signed_image.pk).status == "queued"


@pytest.mark.django_db
def test_a_signature_for_one_image_does_not_open_another(
    anonymous: Any, member: Any, signed_image: Any
) -> None:
    from apps.images import services
    from apps.images.models import Image

    other = services.create_image(
        owner=member.project, name="o", disk_format="raw", container_format="bare"
    )
    _, query = _path_and_query(services.signed_upload_url(image_id=signed_image.pk))
    response = anonymous.put(
        f"/image/v2/images/{other.pk}/file?{urllib.parse.urlencode(query)}",
        b"evil",
        content_type="application/octet-stream",
    )
    assert response.status_code == 403
    assert Image.objects.get(pk=other.pk).status == "queued"


# --- 12: signed URLs stay out of logs; config drives are not world-readable ------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our test API
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _answers(url: str) -> bool:
    try:
        return _status(url) < 500
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_the_access_log_does_not_keep_image_signatures(tmp_path: Path, settings: Any) -> None:
    # given: the API as gunicorn runs it, with its access log on
    from apps.images import services

    workdir = tmp_path / "api"
    workdir.mkdir()
    port = free_port()
    processes = CloudProcesses(public_url=f"http://127.0.0.1:{port}", workdir=workdir)
    settings.PUBLIC_URL = processes.public_url
    image_id = uuid.uuid4()
    url = services.signed_download_url(image_id=image_id)
    signature = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["sig"]
    try:
        api = processes.start_api(port, extra_args=["--access-logfile", "-"])
        wait_until(lambda: _answers(f"{processes.public_url}/image/"), timeout=60, what="the API")

        # when: a host fetches through a signed URL, and someone tries a forged one
        status = _status(url)
        forged = _status(url.replace(signature, "0" * len(signature)))
        wait_until(
            # the access log's lines (Django's own warnings name the path without a query)
            lambda: api.log.read_text().count(f"/image/v2/images/{image_id}/file?") >= 2,
            timeout=30,
            what="the access log lines",
        )
        log = api.log.read_text()
    finally:
        processes.stop_all()

    # then
    assert (status, forged) == (404, 403)  # signature good but no such image; forged
    assert signature not in log
    assert "0" * len(signature) not in log
    assert f"/image/v2/images/{image_id}/file?expires=" in log
    assert "sig=REDACTED" in log


@pytest.mark.parametrize("logger_name", ["django.server", "django.request", "apps.images"])
def test_django_log_lines_do_not_keep_image_signatures(logger_name: str) -> None:
    # given: the handlers the settings give this logger, writing into a buffer
    line = '"GET /image/v2/images/1f0e/file?expires=1999999999&sig=cafe0123beef HTTP/1.1" 200 3'
    logger = logging.getLogger(logger_name)
    # Exactly the settings' stream handlers (not pytest's capture handlers).
    handlers = [h for h in _handlers_of(logger) if type(h) is logging.StreamHandler]
    assert handlers
    buffer = io.StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    try:
        # when
        logger.warning("%s", line)
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)
    # then
    written = buffer.getvalue()
    assert "/image/v2/images/1f0e/file?expires=1999999999&sig=REDACTED" in written
    assert "cafe0123beef" not in written


def _handlers_of(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record of `logger` reaches (as logging.Logger.callHandlers walks)."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        handlers += current.handlers
        current = current.parent if current.propagate else None
    return handlers


def test_a_config_drive_with_user_data_is_readable_by_root_only(
    tmp_path: Path, plane_server: ImageServer, plane_image: ServedImage
) -> None:
    # given: user data with a secret in it
    user_data = base64.b64encode(b"#cloud-config\npassword: s3cret\n").decode()
    instance = new_instance(config_drive=True, user_data=user_data)
    config = make_config(tmp_path, control_plane_url=plane_server.base_url)
    with running_driver(config) as driver:
        # when
        driver.spawn(instance, plane_image.source())
        # then
        drive = config.instances_path / instance.uuid / "disk.config"
        assert stat.S_IMODE(drive.stat().st_mode) == 0o600
        assert b"s3cret" in drive.read_bytes()  # the guest still gets its user data
        assert [p.name for p in drive.parent.iterdir() if p.name.endswith(".part")] == []


# --- 8: cached bases are trusted by content, and unused ones go ------------------------------


def test_a_reused_image_id_never_gets_the_old_images_base(
    cache: ImageCache, plane_server: ImageServer, tmp_path: Path
) -> None:
    # given: image X cached, then deleted; a new image with the same id holds other data
    image_id = str(uuid.uuid4())
    old = plane_server.serve(make_qcow2(tmp_path / "old.qcow2", pattern=0x11), as_name="old")
    new = plane_server.serve(make_qcow2(tmp_path / "new.qcow2", pattern=0x22), as_name="new")
    old_base = cache.fetch(old.source(image_id=image_id))

    # when
    new_base = cache.fetch(new.source(image_id=image_id))

    # then
    assert new_base != old_base
    assert new_base.read_bytes() == new.path.read_bytes()
    assert old_base.read_bytes() == old.path.read_bytes()  # still the old data, unused
    assert plane_server.requests["/new"] == 1


@pytest.mark.parametrize("disk_format", ["qcow2", "raw"])
def test_a_base_whose_content_changed_is_not_used(
    cache: ImageCache, plane_server: ImageServer, tmp_path: Path, disk_format: str
) -> None:
    # given: a cached base, then its bytes changed on the host (same size, same name)
    data = make_qcow2(tmp_path / "disk.qcow2", pattern=0x33)
    if disk_format == "raw":
        raw = tmp_path / "disk.raw"
        subprocess.run(
            ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(data), str(raw)], check=True
        )
        data = raw
    served = plane_server.serve(data, as_name="disk")
    image = served.source(disk_format=disk_format)
    base = cache.fetch(image)
    good = base.read_bytes()
    write_pattern(base, 0x66, offset=0, length=65536)
    assert base.read_bytes() != good

    # when
    again = cache.fetch(image)

    # then: downloaded again; the changed file is gone
    assert again == base
    assert again.read_bytes() == good
    assert plane_server.requests["/disk"] == 2


def test_a_base_replaced_behind_the_cache_is_not_used(
    cache: ImageCache, plane_server: ImageServer, plane_image: ServedImage, tmp_path: Path
) -> None:
    # given: another file put in the base's place (a new inode, times copied from the old)
    image = plane_image.source()
    base = cache.fetch(image)
    evil = make_qcow2(tmp_path / "evil.qcow2", pattern=0x77)
    stat_before = base.stat()
    os.replace(evil, base)
    os.utime(base, ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))

    # when
    again = cache.fetch(image)

    # then
    assert again.read_bytes() == plane_image.path.read_bytes()
    assert plane_server.requests["/base.qcow2"] == 2


# --- with a real compute worker ---------------------------------------------------------------

# The worker's image cache clean-up runs every second and removes bases unused for 3 s.
CACHE_GRACE = 3


@pytest.fixture(scope="module")
def image_cloud_processes(
    django_db_setup: None, django_db_blocker: Any, live_server: Any
) -> Iterator[CloudProcesses]:
    """A conductor and one compute host on test:///default whose image cache is cleaned
    every second with a short grace period."""
    purge_broker()
    workdir = Path(tempfile.mkdtemp(prefix="cc-images-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    processes = CloudProcesses(public_url=live_server.url, workdir=workdir)
    try:
        with django_db_blocker.unblock():
            processes.start_conductor(concurrency=4)
            processes.start_compute(
                extra_env={
                    "IMAGE_CACHE_GRACE": str(CACHE_GRACE),
                    "IMAGE_CACHE_CLEANUP_INTERVAL": "1",
                }
            )
        yield processes
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        with django_db_blocker.unblock():
            forget_hosts(hosts)


@pytest.fixture
def image_cloud(
    image_cloud_processes: CloudProcesses,
    transactional_db: None,
    settings: Any,
    live_server: Any,
    tmp_path: Path,
) -> Cloud:
    """The running cloud, standard flavors and a tiny public image."""
    from apps.flavors.services import ensure_standard_flavors
    from apps.identity.services import ensure_project
    from apps.images.services import ensure_image_from_file

    settings.PUBLIC_URL = live_server.url
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "SERVICE_DOWN_TIME": SERVICE_DOWN_TIME}
    ensure_standard_flavors()
    image = ensure_image_from_file(
        name="tiny",
        path=tiny_qcow2(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    image_cloud_processes.wait_hosts_ready()
    return Cloud(processes=image_cloud_processes, image_id=str(image.id))


def create_server(client: Any, image_id: str) -> str:
    body = {"server": {"name": "vm", "imageRef": image_id, "flavorRef": "0", "networks": "none"}}
    response = client.post(
        "/compute/v2.1/servers", body, format="json", HTTP_OPENSTACK_API_VERSION="compute 2.96"
    )
    assert response.status_code == 202, response.content
    server_id: str = response.json()["server"]["id"]
    return server_id


def host_cache(cloud: Cloud) -> Path:
    return cloud.processes.workdir / cloud.processes.hosts[0] / "cache"


def _bases(cloud: Cloud) -> list[str]:
    """What the host's image cache holds, lock files aside."""
    return sorted(p.name for p in host_cache(cloud).iterdir() if p.name != ".locks")


def test_the_worker_removes_unused_bases_after_the_grace_and_keeps_used_ones(
    image_cloud: Cloud, member: Any, tmp_path: Path
) -> None:
    from apps.images.models import Image

    # given: a server built from the image (its base is used), both the used base and an
    # unused one older than the grace period
    server_id = create_server(member.client, image_cloud.image_id)
    server = image_cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    image = Image.objects.get(pk=image_cloud.image_id)
    cache = host_cache(image_cloud)
    used = cache / f"sha512-{image.os_hash_value}"
    unused = cache / f"sha512-{'ab' * 64}"
    unused.write_bytes(make_qcow2(tmp_path / "unused.qcow2", pattern=0x44).read_bytes())
    long_ago = time.time() - 10 * CACHE_GRACE
    for base in (used, unused):
        os.utime(base, (long_ago, long_ago))

    # when: the worker's periodic clean-up runs
    wait_until(lambda: not unused.exists(), timeout=60, what="the unused base removed")

    # then
    assert used.is_file()
    assert (
        member.client.get(f"/compute/v2.1/servers/{server_id}").json()["server"]["status"]
        == "ACTIVE"
    )


# --- 11: untrusted images are read in Python first, never probed by qemu-img -----------------


def register_unchecked_image(owner: Any, path: Path, *, disk_format: str) -> str:
    """An active image holding exactly the bytes of `path`, with their real checksums, that
    never went through the upload's inspection: it stands for data the API's own check did
    not catch (an older release, another tool writing the store). The host must refuse it
    on its own. Set-up only, hence the direct record update."""
    from apps.images import services
    from apps.images.models import Image
    from apps.images.store import get_store

    image = services.create_image(
        owner=owner, name=path.name, disk_format=disk_format, container_format="bare"
    )
    with path.open("rb") as data:
        stored = get_store().put(image.pk, data)
    Image.objects.filter(pk=image.pk).update(
        status="active",
        size=stored.size,
        checksum=stored.md5,
        os_hash_algo="sha512",
        os_hash_value=stored.sha512,
    )
    return str(image.pk)


def _qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def _with_backing_file(directory: Path, host_file: Path) -> Path:
    path = directory / "backed.qcow2"
    _qemu_img("create", "-q", "-f", "qcow2", "-b", str(host_file), "-F", "raw", str(path), "1M")
    return path


def _with_data_file(directory: Path, host_file: Path) -> Path:
    path = directory / "external-data.qcow2"
    _qemu_img("create", "-q", "-f", "qcow2", "-o", f"data_file={host_file}", str(path), "1M")
    return path


def _raw(directory: Path, host_file: Path) -> Path:
    path = directory / "plain.raw"
    path.write_bytes(b"\x01" * 1024 * 1024)
    return path


def _qcow2(directory: Path, host_file: Path) -> Path:
    return make_qcow2(directory / "plain.qcow2", size_mib=1)


@pytest.mark.parametrize(
    ("craft", "disk_format", "reason"),
    [
        pytest.param(_with_backing_file, "qcow2", "it names a backing file", id="backing-file"),
        pytest.param(_with_data_file, "qcow2", "it names an external data file", id="data-file"),
        pytest.param(
            _raw, "qcow2", "its data is raw, but its disk_format says qcow2", id="raw-as-qcow2"
        ),
        pytest.param(
            _qcow2, "raw", "its data is qcow2, but its disk_format says raw", id="qcow2-as-raw"
        ),
    ],
)
def test_the_host_refuses_an_unsafe_image_and_the_server_errors_with_the_reason(
    image_cloud: Cloud,
    member: Any,
    tmp_path: Path,
    craft: Callable[[Path, Path], Path],
    disk_format: str,
    reason: str,
) -> None:
    # given: a host file the image points at, and the image registered as active
    host_file = tmp_path / "host-secret.raw"
    host_file.write_bytes(b"\0" * 1024 * 1024)
    crafted = craft(tmp_path, host_file)
    secret = b"secret of the host " * 1000
    host_file.write_bytes(secret)  # after crafting: qemu-img create formats a data file
    image_id = register_unchecked_image(member.project, crafted, disk_format=disk_format)
    before = _bases(image_cloud)

    # when
    server_id = create_server(member.client, image_id)
    server = image_cloud.wait_for_server(member.client, server_id, {"ACTIVE", "ERROR"})

    # then: refused, with the reason in the fault, and nothing of it left on the host
    assert server["status"] == "ERROR"
    assert f"Image {image_id} is unacceptable: {reason}" in server["fault"]["message"]
    assert _bases(image_cloud) == before
    instances = image_cloud.processes.workdir / image_cloud.processes.hosts[0] / "instances"
    assert not (instances / server_id).exists()
    assert host_file.read_bytes() == secret


@pytest.mark.parametrize(
    ("craft", "disk_format", "reason"),
    [
        pytest.param(_with_backing_file, "qcow2", "it names a backing file", id="backing-file"),
        pytest.param(_with_data_file, "qcow2", "it names an external data file", id="data-file"),
        pytest.param(_raw, "qcow2", "its data is raw", id="raw-as-qcow2"),
        pytest.param(_qcow2, "raw", "its data is qcow2", id="qcow2-as-raw"),
    ],
)
def test_the_header_is_judged_in_python_before_any_qemu_img_runs(
    tmp_path: Path, craft: Callable[[Path, Path], Path], disk_format: str, reason: str
) -> None:
    # given: qemu-img out of reach, so only the Python inspection can answer
    host_file = tmp_path / "host-secret.raw"
    host_file.write_bytes(b"secret" * 100)
    image = craft(tmp_path, host_file)
    # when / then
    with pytest.raises(exceptions.ImageUnacceptable, match=reason):
        diskinspect.inspect(image, expected=disk_format, image_id="x")


def test_a_vmdk_or_a_file_of_two_formats_is_refused(tmp_path: Path) -> None:
    vmdk = tmp_path / "disk.vmdk"
    _qemu_img("create", "-q", "-f", "vmdk", str(vmdk), "1M")
    for expected in ("raw", "qcow2"):
        with pytest.raises(exceptions.ImageUnacceptable, match="its data is vmdk"):
            diskinspect.inspect(vmdk, expected=expected, image_id="x")


def test_a_qcow2_with_unknown_incompatible_features_is_refused(tmp_path: Path) -> None:
    # given: a clean qcow2 v3 with an unknown incompatible feature bit set (bit 30)
    path = make_qcow2(tmp_path / "future.qcow2", size_mib=1)
    with path.open("r+b") as f:
        f.seek(0x48)
        f.write((1 << 30).to_bytes(8, "big"))
    with pytest.raises(exceptions.ImageUnacceptable, match="features"):
        diskinspect.inspect(path, expected="qcow2", image_id="x")


def test_qemu_img_never_probes_and_runs_under_limits(tmp_path: Path) -> None:
    # given: raw bytes that are a qcow2 header naming a host file as backing file
    host_file = tmp_path / "host-secret.raw"
    host_file.write_bytes(b"secret" * 100)
    disguised = _with_backing_file(tmp_path, host_file)
    # when / then: read as the raw image it claims to be, it has no backing file
    info = qemuimg.info(disguised, fmt="raw")
    assert (info["format"], info.get("backing-filename")) == ("raw", None)
    # and qemu-img runs under the address-space limit: far too little and it cannot start
    assert qemuimg.PRLIMIT is not None
    with pytest.raises(exceptions.DiskOperationFailed):
        qemuimg._run("info", "-f", "raw", str(disguised), limits=(8 * 1024 * 1024, 5))


def test_a_raw_disk_with_a_partition_table_is_still_raw(tmp_path: Path) -> None:
    # given: a raw disk whose MBR has one Linux partition (what most raw cloud images are)
    disk = bytearray(1024 * 1024)
    entry = bytes([0x80, 0, 2, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little")
    disk[446 : 446 + 16] = entry + (2048).to_bytes(4, "little")
    disk[510:512] = b"\x55\xaa"
    path = tmp_path / "partitioned.raw"
    path.write_bytes(bytes(disk))
    # when / then: accepted as raw, refused as anything else
    diskinspect.inspect(path, expected="raw", image_id="x")
    with pytest.raises(exceptions.ImageUnacceptable, match="its data is gpt"):
        diskinspect.inspect(path, expected="qcow2", image_id="x")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("craft", "disk_format", "message"),
    [
        pytest.param(_with_backing_file, "qcow2", "backing file", id="backing-file"),
        pytest.param(_with_data_file, "qcow2", "external data file", id="data-file"),
        pytest.param(_raw, "qcow2", "does not match disk_format", id="raw-as-qcow2"),
        pytest.param(_qcow2, "raw", "does not match disk_format", id="qcow2-as-raw"),
    ],
)
def test_the_api_refuses_the_same_images_at_upload(
    member: Any,
    tmp_path: Path,
    craft: Callable[[Path, Path], Path],
    disk_format: str,
    message: str,
) -> None:
    from apps.images.models import Image

    # given
    host_file = tmp_path / "host-secret.raw"
    host_file.write_bytes(b"\0" * 1024 * 1024)
    data = craft(tmp_path, host_file).read_bytes()
    created = member.client.post(
        "/image/v2/images",
        {"name": "x", "disk_format": disk_format, "container_format": "bare"},
        format="json",
    )
    image_id = created.json()["id"]
    # when
    response = member.client.put(
        f"/image/v2/images/{image_id}/file", data, content_type="application/octet-stream"
    )
    # then
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    image = Image.objects.get(pk=image_id)
    assert (image.status, image.size, image.checksum) == ("queued", None, None)

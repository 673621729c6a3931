"""Image services: registering a local file, upload state changes under concurrency, the size
cap, and the images the compute fabric makes (snapshots, resize transfers)."""

import io
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from apps.images import services
from apps.images.exceptions import (
    ImageGone,
    ImageInvalid,
    ImageStatusConflict,
    ImageTooLarge,
    SignedUrlInvalid,
)
from apps.images.models import Image
from apps.images.store import FilesystemStore
from computecloud.exceptions import InvalidInput
from tests.factories import ProjectFactory
from tests.images.conftest import md5, qemu_img_create, sha512


class GatedStream:
    """Gives `first` at once, then waits for `release` before the rest: an upload caught in
    the middle."""

    def __init__(self, first: bytes, rest: bytes) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self._parts = [first, rest]

    def read(self, size: int = -1, /) -> bytes:
        if not self._parts:
            return b""
        if len(self._parts) == 1:
            self.started.set()
            assert self.release.wait(timeout=30)
        return self._parts.pop(0)


class FailingStream:
    def __init__(self) -> None:
        self.calls = 0

    def read(self, size: int = -1, /) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise ConnectionResetError("client went away")
        return b"x" * 1000


# --- ensure_image_from_file ------------------------------------------------------------------


def test_ensure_image_from_file_registers_once_per_content(db, tmp_path):
    # given
    project = ProjectFactory()
    disk = qemu_img_create(tmp_path / "tinyos.qcow2", size="32M")
    kwargs = {
        "name": "tinyos",
        "path": disk,
        "owner": project,
        "visibility": "public",
        "properties": {"hw_machine_type": "pc", "os_distro": "tinyos"},
    }
    # when
    first = services.ensure_image_from_file(**kwargs)
    again = services.ensure_image_from_file(**kwargs)
    # then
    assert again.pk == first.pk
    assert Image.objects.count() == 1
    assert first.status == "active"
    assert (first.disk_format, first.container_format) == ("qcow2", "bare")
    assert first.visibility == "public"
    assert first.virtual_size == 32 * 1024 * 1024
    assert first.os_hash_value == sha512(disk.read_bytes())
    assert first.properties == {"hw_machine_type": "pc", "os_distro": "tinyos"}


def test_ensure_image_from_file_registers_changed_content_as_a_new_image(db, tmp_path):
    project = ProjectFactory()
    disk = qemu_img_create(tmp_path / "tinyos.qcow2", size="32M")
    args = {"name": "tinyos", "owner": project, "visibility": "public", "properties": {}}
    old = services.ensure_image_from_file(path=disk, **args)
    qemu_img_create(disk, size="48M")
    new = services.ensure_image_from_file(path=disk, **args)
    assert new.pk != old.pk
    assert Image.objects.filter(name="tinyos", status="active").count() == 2


# --- upload state machine --------------------------------------------------------------------


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_second_upload_while_the_first_is_saving_is_a_conflict(member, make_image):
    # given: an upload half way through, in another thread
    image = make_image(member)
    gate = GatedStream(b"a" * 1000, b"b" * 1000)
    outcome: dict[str, object] = {}

    def first_upload() -> None:
        try:
            outcome["image"] = services.upload_image_data(image=image, stream=gate)
        finally:
            connection.close()

    thread = threading.Thread(target=first_upload)
    thread.start()
    assert gate.started.wait(timeout=30)
    # when
    with pytest.raises(ImageStatusConflict):
        services.upload_image_data(image=image, stream=io.BytesIO(b"c"))
    saving = Image.objects.get(pk=image.pk).status
    gate.release.set()
    thread.join(timeout=30)
    # then
    assert saving == "saving"
    final = Image.objects.get(pk=image.pk)
    assert final.status == "active"
    assert final.checksum == md5(b"a" * 1000 + b"b" * 1000)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_delete_during_upload_leaves_no_record_and_no_data(member, make_image, image_state_dir):
    # given
    image = make_image(member)
    gate = GatedStream(b"a" * 1000, b"b" * 1000)
    outcome: dict[str, BaseException] = {}

    def upload() -> None:
        try:
            services.upload_image_data(image=image, stream=gate)
        except BaseException as exc:  # the outcome is what the test checks
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=upload)
    thread.start()
    assert gate.started.wait(timeout=30)
    # when
    services.delete_image(image=image)
    gate.release.set()
    thread.join(timeout=30)
    # then
    assert isinstance(outcome.get("error"), ImageGone)
    assert not Image.objects.filter(pk=image.pk).exists()
    assert list(image_state_dir.iterdir()) == []


def test_interrupted_upload_leaves_the_image_queued_and_no_partial_file(
    member, make_image, image_state_dir
):
    image = make_image(member)
    with pytest.raises(ConnectionResetError):
        services.upload_image_data(image=image, stream=FailingStream())
    assert Image.objects.get(pk=image.pk).status == "queued"
    assert list(image_state_dir.iterdir()) == []


def test_upload_over_the_size_cap_is_refused(member, make_image, settings, image_state_dir):
    # given
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "IMAGE_SIZE_CAP": 1500}
    image = make_image(member)
    # when
    with pytest.raises(ImageTooLarge):
        services.upload_image_data(image=image, stream=FailingStream())
    # then
    assert Image.objects.get(pk=image.pk).status == "queued"
    assert list(image_state_dir.iterdir()) == []


def test_upload_shorter_than_declared_is_refused(member, make_image):
    image = make_image(member)
    with pytest.raises(ImageInvalid, match="does not match the declared size"):
        services.upload_image_data(image=image, stream=io.BytesIO(b"abc"), expected_size=10)
    assert Image.objects.get(pk=image.pk).status == "queued"


def test_store_replaces_data_atomically(tmp_path):
    # given
    store = FilesystemStore(root=tmp_path)
    image_id = uuid.uuid4()
    store.put(image_id, io.BytesIO(b"old"))
    # when: a second put fails half way
    with pytest.raises(ConnectionResetError):
        store.put(image_id, FailingStream())
    # then: the old data is intact and no temporary file is left
    with store.open(image_id) as data:
        assert data.read() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [str(image_id)]


# --- images of the compute fabric ------------------------------------------------------------


@pytest.fixture
def server(member):
    from apps.servers.models import Server

    return Server.objects.create(
        name="vm",
        project=member.project,
        user_id=member.user.pk,
        root_gb=5,
        image_ref=str(uuid.uuid4()),
        image_meta={"min_ram": 64, "properties": {"hw_disk_bus": "virtio", "os_distro": "x"}},
    )


def test_snapshot_image_inherits_base_properties_and_records_its_origin(member, server):
    # when
    image = services.create_snapshot_image(
        context=member_context(member),
        name="snap",
        server=server,
        extra_properties={"purpose": "backup"},
    )
    # then
    assert image.status == "queued"
    assert image.owner_id == member.project.pk
    assert image.visibility == "private"
    assert (image.disk_format, image.container_format) == ("qcow2", "bare")
    assert (image.min_disk, image.min_ram) == (5, 64)
    assert image.properties == {
        "hw_disk_bus": "virtio",
        "os_distro": "x",
        "image_type": "snapshot",
        "instance_uuid": str(server.uuid),
        "base_image_ref": server.image_ref,
        "user_id": member.user.pk,
        "purpose": "backup",
    }


def test_failed_snapshot_is_deleted_but_an_active_one_stays(
    member, server, make_image, django_capture_on_commit_callbacks
):
    context = member_context(member)
    failed = services.create_snapshot_image(
        context=context, name="f", server=server, extra_properties={}
    )
    done = make_image(member, data=b"finished")
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_snapshot_failed(image_id=str(failed.pk))
        services.mark_snapshot_failed(image_id=str(done.pk))
    assert not Image.objects.filter(pk=failed.pk).exists()
    assert Image.objects.get(pk=done.pk).status == "active"


def test_transfer_image_is_hidden_and_deleted_idempotently(
    member, server, image_state_dir, tmp_path, django_capture_on_commit_callbacks
):
    # given
    transfer = services.create_transfer_image(server=server, migration_uuid=str(uuid.uuid4()))
    disk = qemu_img_create(tmp_path / "disk.qcow2")
    with disk.open("rb") as data:
        services.upload_image_data(image=transfer, stream=data)
    listed = member.client.get("/image/v2/images").json()["images"]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_transfer_image(image_id=str(transfer.pk))
        services.delete_transfer_image(image_id=str(transfer.pk))
    # then
    assert transfer.os_hidden is True
    assert listed == []
    assert not Image.objects.filter(pk=transfer.pk).exists()
    assert list(image_state_dir.iterdir()) == []


def test_image_for_boot_is_a_visible_image_or_novas_400(member, make_caller, make_image):
    other = make_caller("member")
    private = make_image(other, visibility="private")
    own = make_image(member)
    context = member_context(member)
    assert services.get_image_for_boot(context=context, image_id=str(own.pk)).pk == own.pk
    with pytest.raises(InvalidInput, match="Can not find requested image"):
        services.get_image_for_boot(context=context, image_id=str(private.pk))


def test_image_meta_carries_what_a_build_needs(member, make_image):
    image = make_image(member, data=b"x", min_ram=32, hw_video_model="vga")
    meta = services.image_meta(image=image)
    assert meta["id"] == str(image.pk)
    assert meta["min_ram"] == 32
    assert meta["checksum"] == md5(b"x")
    assert meta["properties"] == {"hw_video_model": "vga"}


def member_context(caller):
    from apps.identity.context import RequestContext

    return RequestContext(
        user_id=caller.user.pk, project_id=caller.project.pk, roles=frozenset({"member"})
    )


def test_signed_upload_url_covers_only_one_purpose(member, make_image):
    image = make_image(member)
    query = dict(
        part.split("=")
        for part in services.signed_upload_url(image_id=image.id).split("?")[1].split("&")
    )
    services.check_signed_url(
        image_id=str(image.pk), purpose="upload", expires=query["expires"], signature=query["sig"]
    )
    with pytest.raises(SignedUrlInvalid):
        services.check_signed_url(
            image_id=str(image.pk),
            purpose="download",
            expires=query["expires"],
            signature=query["sig"],
        )


def test_local_path_is_the_stored_file(tmp_path):
    store = FilesystemStore(root=tmp_path)
    image_id = uuid.uuid4()
    store.put(image_id, io.BytesIO(b"bytes"))
    assert store.local_path(image_id) == Path(tmp_path) / str(image_id)


def test_stale_upload_is_reset_to_queued_and_its_partial_file_dropped(
    member, make_image, image_state_dir
):
    # given: an image left "saving" by a process that died, with its temporary file
    image = make_image(member)
    live = make_image(member)
    Image.objects.filter(pk__in=[image.pk, live.pk]).update(status="saving")
    Image.objects.filter(pk=image.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    image_state_dir.mkdir(parents=True)
    partial = image_state_dir / f".{image.pk}.abc123.part"
    partial.write_bytes(b"half")
    # when
    reset = services.reset_stale_uploads()
    # then
    assert reset == 1
    assert Image.objects.get(pk=image.pk).status == "queued"
    assert Image.objects.get(pk=live.pk).status == "saving"
    assert not partial.exists()
    services.upload_image_data(image=image, stream=io.BytesIO(b"retried"))
    assert Image.objects.get(pk=image.pk).status == "active"


def test_running_upload_keeps_its_image_alive(member, make_image, monkeypatch):
    # given: a heartbeat on every read, and an image last touched long ago
    monkeypatch.setattr(services, "UPLOAD_HEARTBEAT_INTERVAL", 0)
    image = make_image(member)
    Image.objects.filter(pk=image.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    seen: list[object] = []

    class Observing(io.BytesIO):
        def read(self, size: int = -1, /) -> bytes:
            seen.append(Image.objects.get(pk=image.pk).updated_at)
            return super().read(size)

    # when
    services.upload_image_data(image=image, stream=Observing(b"x" * 3000))
    # then: by the second read the first heartbeat had refreshed updated_at
    assert seen[1] > timezone.now() - timedelta(minutes=1)

"""Image writes and the reads other apps build on: create, change, upload, delete, register a
local file, and signed data URLs for hosts that hold no credentials.

Status changes are compare-and-set UPDATEs (queued → saving → active, or back to queued when
an upload fails), so two uploads to one image, or a delete during an upload, cannot both win.
Uploads stream: data goes from the request to the store in bounded chunks and is never held
whole in memory. See docs/architecture.md ("image data") and decision 0002 (why compute hosts
download and upload through signed URLs).
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.identity.context import RequestContext
from apps.identity.models import Project
from apps.images.choices import (
    BASE_ATTRIBUTES,
    DEFAULT_VISIBILITY,
    HASH_ALGO,
    READ_ONLY_ATTRIBUTES,
    RESERVED_ATTRIBUTES,
    RESERVED_PREFIX,
    ImageStatus,
)
from apps.images.exceptions import (
    ImageAttributeReadOnly,
    ImageAttributeReserved,
    ImageDuplicate,
    ImageGone,
    ImageInvalid,
    ImageMetadataNotProperty,
    ImageNotFound,
    ImagePropertyConflict,
    ImageProtected,
    ImageStatusConflict,
    ImageTooLarge,
    SignedUrlInvalid,
)
from apps.images.inspect import inspect_disk
from apps.images.models import Image
from apps.images.store import CHUNK_SIZE, Readable, StoredData, get_store
from computecloud.conf import cc_settings
from computecloud.exceptions import InvalidInput

logger = logging.getLogger(__name__)


class ImageSource(Protocol):
    """What a snapshot or a move's transfer image is made from: a server, as images (which
    sit below servers in the app order) see one."""

    uuid: Any
    project: Any
    image_ref: str
    image_meta: Any
    root_gb: int


# The owner may state the data's digests when creating the image (openstacksdk does, with
# validate_checksum); an upload whose data disagrees is refused.
OWNER_MD5_KEY = "owner_specified.openstack.md5"
OWNER_SHA256_KEY = "owner_specified.openstack.sha256"
# Attributes that may change only before data arrives (Glance's rule).
QUEUED_ONLY_ATTRIBUTES = frozenset({"disk_format", "container_format"})
SIGNED_URL_SALT = "computecloud.images.signed-url"

SignedPurpose = Literal["download", "upload"]


@dataclass(frozen=True)
class ImageChange:
    """One JSON-patch operation on a top-level attribute (Glance paths are one level deep).

    `value` has been validated for the attribute by the caller (the API's serializer)."""

    op: Literal["add", "replace", "remove"]
    path: str
    value: Any = None


# --- reads ---------------------------------------------------------------------------------


def find_visible_image(*, context: RequestContext, image_id: str | uuid.UUID) -> Image:
    """The image `context` may see, or `ImageNotFound` (also for malformed ids)."""
    image_uuid = _parse_uuid(image_id)
    image = Image.objects.visible_to(context).filter(pk=image_uuid).first()
    if image is None:
        raise ImageNotFound(image_id=image_id)
    return image


def get_image_for_boot(*, context: RequestContext, image_id: str) -> Image:
    """The image a server is built from: one `context` may see, else Nova's 400."""
    try:
        return find_visible_image(context=context, image_id=image_id)
    except ImageNotFound:
        raise InvalidInput(message="Can not find requested image") from None


def image_meta(*, image: Image) -> dict[str, Any]:
    """What a build needs to know of an image (Nova's ImageMeta): kept on the server at build
    and handed to the compute host."""
    return {
        "id": str(image.id),
        "name": image.name,
        "status": image.status,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "owner": image.owner_id,
        "properties": dict(image.properties),
    }


# --- create, change, delete ----------------------------------------------------------------


def check_property_names(names: Iterable[str]) -> None:
    """Refuse extra-property names Glance keeps for itself or computes (403), or too long
    (400)."""
    for name in names:
        if name in READ_ONLY_ATTRIBUTES:
            raise ImageAttributeReadOnly(attribute=name)
        if name in RESERVED_ATTRIBUTES or name.startswith(RESERVED_PREFIX):
            raise ImageAttributeReserved(attribute=name)
        if len(name) > 255:
            raise ImageInvalid(reason="Custom property should not be greater than 255 characters.")


def create_image(
    *,
    owner: Project,
    name: str | None = None,
    disk_format: str | None = None,
    container_format: str | None = None,
    visibility: str = DEFAULT_VISIBILITY,
    protected: bool = False,
    os_hidden: bool = False,
    min_disk: int = 0,
    min_ram: int = 0,
    tags: Sequence[str] = (),
    properties: dict[str, str] | None = None,
    image_id: uuid.UUID | None = None,
) -> Image:
    """A new image record, status queued, with no data yet.

    The caller has authorised the visibility (public needs ``image:publicize_image``).
    """
    properties = dict(properties or {})
    check_property_names(properties)
    try:
        with transaction.atomic():
            return Image.objects.create(
                id=image_id or uuid.uuid4(),
                owner=owner,
                name=name,
                disk_format=disk_format,
                container_format=container_format,
                visibility=visibility,
                protected=protected,
                os_hidden=os_hidden,
                min_disk=min_disk,
                min_ram=min_ram,
                tags=_unique(tags),
                properties=properties,
            )
    except IntegrityError:
        raise ImageDuplicate(image_id=image_id) from None


def update_image(*, image: Image, changes: Sequence[ImageChange]) -> Image:
    """Apply JSON-patch `changes` all or nothing, under the row lock.

    The caller has checked that the changes are allowed to this caller (ownership, publicize,
    owner reassignment) and validated each value's type.
    """
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk).first()
        if locked is None:
            raise ImageNotFound(image_id=image.pk)
        for change in changes:
            _apply_change(locked, change)
        locked.save()
    return locked


def _apply_change(image: Image, change: ImageChange) -> None:
    path = change.path
    if path in READ_ONLY_ATTRIBUTES:
        raise ImageAttributeReadOnly(attribute=path)
    if path not in BASE_ATTRIBUTES:
        check_property_names([path])
    if change.op == "remove":
        if path in BASE_ATTRIBUTES:
            raise ImageAttributeReadOnly(attribute=path)
        if path not in image.properties:
            raise ImagePropertyConflict(reason=f"Property {path} does not exist.")
        del image.properties[path]
        return
    if path in BASE_ATTRIBUTES:
        if path in QUEUED_ONLY_ATTRIBUTES and image.status != ImageStatus.QUEUED:
            raise ImageAttributeReadOnly(
                message=f"Attribute {path} can be only replaced for a queued image."
            )
        value: Any = _unique(change.value) if path == "tags" else change.value
        if path == "owner":
            image.owner_id = value
        else:
            setattr(image, path, value)
        return
    if change.op == "replace" and path not in image.properties:
        raise ImagePropertyConflict(reason=f"Property {path} does not exist.")
    image.properties[path] = change.value


def update_image_properties(
    *, image: Image, set_items: dict[str, str], remove: Sequence[str] = ()
) -> Image:
    """Change an image's free-form properties and nothing else: the Compute API's image
    metadata, which Nova's image proxy keeps to properties too.

    A name the image API treats as a base, read-only or reserved attribute (visibility,
    owner, status, min_ram, id, ...) is refused with a 400, so metadata can never publish an
    image, hand it to another project or rewrite what the server computed. The caller has
    checked ownership.
    """
    for name in [*set_items, *remove]:
        if not name:
            raise ImageInvalid(reason="An image metadata key must not be empty.")
        if is_image_attribute(name):
            raise ImageMetadataNotProperty(key=name)
    check_property_names([*set_items, *remove])
    changes = [ImageChange(op="remove", path=name) for name in remove]
    changes += [ImageChange(op="add", path=name, value=value) for name, value in set_items.items()]
    return update_image(image=image, changes=changes)


def is_image_attribute(name: str) -> bool:
    """Whether `name` is one of Glance's own attributes rather than a free-form property."""
    return (
        name in BASE_ATTRIBUTES
        or name in READ_ONLY_ATTRIBUTES
        or name in RESERVED_ATTRIBUTES
        or name.startswith(RESERVED_PREFIX)
    )


def delete_image(*, image: Image) -> None:
    """Delete the record, then the data once that has committed. A protected image stays
    (403); an upload still running finds the record gone and drops what it wrote."""
    with transaction.atomic():
        deleted, _ = Image.objects.filter(pk=image.pk, protected=False).delete()
        if not deleted:
            if Image.objects.filter(pk=image.pk).exists():
                raise ImageProtected(image_id=image.pk)
            raise ImageNotFound(image_id=image.pk)
        image_id = image.pk
        transaction.on_commit(lambda: get_store().delete(image_id))
    logger.info("image %s deleted", image_id)


# --- images made by the compute fabric --------------------------------------------------------

# Base-image properties a snapshot does not inherit: they describe the base image's own data.
NOT_INHERITED_PROPERTIES = frozenset(
    {OWNER_MD5_KEY, OWNER_SHA256_KEY, "owner_specified.openstack.object"}
)


def create_snapshot_image(
    *,
    context: RequestContext,
    name: str,
    server: ImageSource,
    extra_properties: dict[str, str],
) -> Image:
    """The queued, private image a server snapshot (createImage) is uploaded into, as Nova
    records it: the base image's properties, ``image_type=snapshot``, the instance and base
    image ids, and the request's metadata; min_disk covers the server's root disk.

    Runs inside the caller's transaction (the server's state change commits with it).
    """
    base = dict((server.image_meta or {}).get("properties") or {})
    properties = {k: str(v) for k, v in base.items() if k not in NOT_INHERITED_PROPERTIES}
    properties.update(
        {
            "image_type": "snapshot",
            "instance_uuid": str(server.uuid),
            "base_image_ref": server.image_ref,
            "user_id": context.user_id,
        }
    )
    for key, value in extra_properties.items():
        if not isinstance(value, str):
            raise ImageInvalid(reason=f"Property {key} must be a string, not {value!r}.")
    properties.update(extra_properties)
    meta = server.image_meta or {}
    return create_image(
        owner=server.project,
        name=name,
        disk_format="qcow2",
        container_format="bare",
        visibility="private",
        min_disk=max(int(server.root_gb or 0), int(meta.get("min_disk") or 0)),
        min_ram=int(meta.get("min_ram") or 0),
        properties=properties,
    )


def mark_snapshot_failed(*, image_id: str) -> None:
    """A snapshot the host could not finish is deleted with its data, as Nova does
    (``delete_image_on_error``); an image that became active anyway stays."""
    with transaction.atomic():
        deleted, _ = (
            Image.objects.filter(pk=_parse_uuid(image_id))
            .exclude(status=ImageStatus.ACTIVE)
            .delete()
        )
        if deleted:
            transaction.on_commit(lambda: get_store().delete(image_id))
    if deleted:
        logger.info("snapshot image %s deleted after a failed snapshot", image_id)


def create_transfer_image(
    *,
    server: ImageSource,
    migration_uuid: str,
    disk_format: str = "qcow2",
    container_format: str = "bare",
) -> Image:
    """A hidden, private image that carries a server's disk from the source host to the
    destination during a resize or cold migration (uploaded and downloaded through signed
    URLs, deleted by `delete_transfer_image` when the move ends).

    The default is one flattened qcow2 file, checked on upload like any image (no backing
    file). Several files packed as a tar go as ``container_format="ova"``: not inspected.
    """
    return create_image(
        owner=server.project,
        name=f"transfer-{migration_uuid}",
        disk_format=disk_format,
        container_format=container_format,
        visibility="private",
        os_hidden=True,
        properties={
            "image_type": "transfer",
            "instance_uuid": str(server.uuid),
            "migration_uuid": str(migration_uuid),
        },
    )


def delete_transfer_image(*, image_id: str) -> None:
    """Drop a transfer image and its data; absent is fine (idempotent)."""
    with transaction.atomic():
        Image.objects.filter(pk=_parse_uuid(image_id)).delete()
        transaction.on_commit(lambda: get_store().delete(image_id))


# --- data ----------------------------------------------------------------------------------


# How often a running upload marks its image as still alive (updated_at), seconds; well
# under IMAGE_UPLOAD_STALE_AFTER so that `reset_stale_uploads` never takes a live one.
UPLOAD_HEARTBEAT_INTERVAL = 30


class _MeteredReader:
    """Wraps the incoming stream: counts bytes, refuses more than the cap, computes the extra
    digest the store does not (sha256, when the owner stated one), and keeps the image's
    updated_at fresh while data flows."""

    def __init__(self, stream: Readable, *, image: Image, cap: int, sha256: bool) -> None:
        self._stream = stream
        self._image = image
        self._cap = cap
        self._beat_at = time.monotonic() + UPLOAD_HEARTBEAT_INTERVAL
        self.count = 0
        self.sha256 = hashlib.sha256() if sha256 else None

    def read(self, size: int = -1, /) -> bytes:
        # Never read "everything": the body may be larger than memory.
        chunk = self._stream.read(size if size > 0 else CHUNK_SIZE)
        self.count += len(chunk)
        if self.count > self._cap:
            raise ImageTooLarge(cap=self._cap)
        if self.sha256 is not None:
            self.sha256.update(chunk)
        if time.monotonic() >= self._beat_at:
            self._beat_at = time.monotonic() + UPLOAD_HEARTBEAT_INTERVAL
            Image.objects.filter(pk=self._image.pk, status=ImageStatus.SAVING).update(
                updated_at=timezone.now()
            )
        return chunk


def upload_image_data(
    *,
    image: Image,
    stream: Readable,
    expected_checksum: str | None = None,
    expected_size: int | None = None,
) -> Image:
    """Store `stream` as the image's data and make the image active.

    queued → saving (compare-and-set: a second upload gets 409), data to the store, checks,
    then saving → active with size, md5 checksum, sha512 hash and virtual size. If anything
    fails the data is dropped and the image goes back to queued, so the upload may be retried.

    Checks: `expected_size` (the declared Content-Length), `expected_checksum` (md5, hex) and
    the owner-stated digests among the image's properties; the content must be the declared
    disk_format (apps/images/inspect.py).

    Precondition: not called inside a transaction: the "saving" mark must be visible to others
    (a concurrent upload or delete) for the whole upload.
    """
    claimed = Image.objects.filter(pk=image.pk, status=ImageStatus.QUEUED).update(
        status=ImageStatus.SAVING, updated_at=timezone.now()
    )
    if not claimed:
        current = Image.objects.filter(pk=image.pk).values_list("status", flat=True).first()
        if current is None:
            raise ImageNotFound(image_id=image.pk)
        raise ImageStatusConflict(current=current, wanted=ImageStatus.SAVING)

    store = get_store()
    owner_md5 = (image.properties.get(OWNER_MD5_KEY) or "").lower()
    owner_sha256 = (image.properties.get(OWNER_SHA256_KEY) or "").lower()
    reader = _MeteredReader(
        stream, image=image, cap=cc_settings.IMAGE_SIZE_CAP, sha256=bool(owner_sha256)
    )
    try:
        stored = store.put(image.pk, reader)
        _verify_upload(
            stored,
            expected_size=expected_size,
            expected_checksums=[c for c in (expected_checksum, owner_md5) if c],
            expected_sha256=owner_sha256,
            sha256=reader.sha256.hexdigest() if reader.sha256 else "",
        )
        local_path = store.local_path(image.pk)
        virtual_size = None
        if local_path is not None and image.container_format in (None, "bare"):
            virtual_size = inspect_disk(local_path, disk_format=image.disk_format, size=stored.size)
    except BaseException:
        store.delete(image.pk)
        _restore_queued(image)
        raise

    activated = Image.objects.filter(pk=image.pk, status=ImageStatus.SAVING).update(
        status=ImageStatus.ACTIVE,
        size=stored.size,
        virtual_size=virtual_size,
        checksum=stored.md5,
        os_hash_algo=HASH_ALGO,
        os_hash_value=stored.sha512,
        updated_at=timezone.now(),
    )
    if not activated:
        # Deleted (or reset) while we were writing: what we wrote belongs to nobody.
        store.delete(image.pk)
        raise ImageGone(image_id=image.pk)
    logger.info("image %s active: %d bytes, md5 %s", image.pk, stored.size, stored.md5)
    return Image.objects.get(pk=image.pk)


def _verify_upload(
    stored: StoredData,
    *,
    expected_size: int | None,
    expected_checksums: list[str],
    expected_sha256: str,
    sha256: str,
) -> None:
    if expected_size is not None and stored.size != expected_size:
        raise ImageInvalid(
            reason=f"Size of uploaded data ({stored.size}) does not match the declared size "
            f"({expected_size})."
        )
    for checksum in expected_checksums:
        if checksum.lower() != stored.md5:
            raise ImageInvalid(
                reason=f"Checksum verification failed: expected {checksum}, got {stored.md5}."
            )
    if expected_sha256 and expected_sha256 != sha256:
        raise ImageInvalid(
            reason=f"sha256 verification failed: expected {expected_sha256}, got {sha256}."
        )


def _restore_queued(image: Image) -> None:
    Image.objects.filter(pk=image.pk, status=ImageStatus.SAVING).update(
        status=ImageStatus.QUEUED, updated_at=timezone.now()
    )


def reset_stale_uploads(*, older_than: int | None = None) -> int:
    """Put back to queued every image still "saving" whose upload shows no sign of life for
    `older_than` seconds (default ``IMAGE_UPLOAD_STALE_AFTER``): its process died (a killed
    web worker runs no clean-up), so the owner may upload again. Returns how many.

    A periodic job for the conductor's beat; live uploads refresh updated_at every
    `UPLOAD_HEARTBEAT_INTERVAL` seconds, so they are never taken.
    """
    cutoff = timezone.now() - timedelta(
        seconds=older_than if older_than is not None else cc_settings.IMAGE_UPLOAD_STALE_AFTER
    )
    store = get_store()
    reset = 0
    stale = Image.objects.filter(status=ImageStatus.SAVING, updated_at__lt=cutoff)
    for image_id in stale.values_list("pk", flat=True):
        if Image.objects.filter(
            pk=image_id, status=ImageStatus.SAVING, updated_at__lt=cutoff
        ).update(status=ImageStatus.QUEUED, updated_at=timezone.now()):
            store.discard_partial(image_id)
            logger.warning("image %s: stale upload abandoned, back to queued", image_id)
            reset += 1
    return reset


def ensure_image_from_file(
    *,
    name: str,
    path: Path,
    owner: Project,
    visibility: str,
    properties: dict[str, str],
    disk_format: str = "qcow2",
    container_format: str = "bare",
) -> Image:
    """The active image `name` of `owner` holding exactly the bytes of `path`: the existing one
    when its sha512 matches, else a new image uploaded from the file (an older image of the
    same name stays: servers may have been built from it).

    Precondition: not called inside a transaction (the upload streams outside one).
    """
    digest = hashlib.sha512()
    with path.open("rb") as data:
        while chunk := data.read(CHUNK_SIZE):
            digest.update(chunk)
    existing = Image.objects.filter(
        name=name, owner=owner, status=ImageStatus.ACTIVE, os_hash_value=digest.hexdigest()
    ).first()
    if existing is not None:
        return existing
    image = create_image(
        owner=owner,
        name=name,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        properties=properties,
    )
    with path.open("rb") as data:
        return upload_image_data(image=image, stream=data, expected_size=path.stat().st_size)


# --- signed URLs ---------------------------------------------------------------------------


def _signature(*, purpose: SignedPurpose, image_id: str, expires: int) -> str:
    value = f"{purpose}:{image_id}:{expires}"
    return salted_hmac(SIGNED_URL_SALT, value, algorithm="sha256").hexdigest()


def _signed_url(*, image_id: str | uuid.UUID, purpose: SignedPurpose, ttl: int) -> str:
    expires = int(time.time()) + ttl
    signature = _signature(purpose=purpose, image_id=str(image_id), expires=expires)
    return (
        f"{settings.PUBLIC_URL}/image/v2/images/{image_id}/file?expires={expires}&sig={signature}"
    )


def signed_download_url(*, image_id: str | uuid.UUID, ttl: int = 600) -> str:
    """A URL that downloads the image's data without a token until `ttl` seconds from now
    (for compute hosts, which hold no credentials)."""
    return _signed_url(image_id=image_id, purpose="download", ttl=ttl)


def signed_upload_url(*, image_id: str | uuid.UUID, ttl: int = 3600) -> str:
    """A URL that uploads the image's data (PUT) without a token until `ttl` seconds from now;
    the upload itself is only accepted while the image is queued (snapshots from hosts)."""
    return _signed_url(image_id=image_id, purpose="upload", ttl=ttl)


def check_signed_url(
    *, image_id: str, purpose: SignedPurpose, expires: str | None, signature: str | None
) -> None:
    """Raise `SignedUrlInvalid` unless (`expires`, `signature`) is a live signature for
    `purpose` on `image_id`."""
    if not expires or not signature or not expires.isdigit():
        raise SignedUrlInvalid()
    wanted = _signature(purpose=purpose, image_id=image_id, expires=int(expires))
    if not constant_time_compare(wanted, signature) or int(expires) < time.time():
        raise SignedUrlInvalid()


# --- helpers -------------------------------------------------------------------------------


def _parse_uuid(image_id: str | uuid.UUID) -> uuid.UUID:
    try:
        return image_id if isinstance(image_id, uuid.UUID) else uuid.UUID(str(image_id))
    except ValueError:
        raise ImageNotFound(image_id=image_id) from None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))

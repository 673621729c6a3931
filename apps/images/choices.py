"""Image constants: Glance's statuses, visibilities and formats, and the attribute groups the
API treats differently (read-only, reserved, base)."""

from django.db import models


class ImageStatus(models.TextChoices):
    """Glance's image lifecycle.

    queued → saving → active is the upload path (a failed upload goes back to queued);
    killed marks data that failed verification; the others belong to Glance features we
    do not serve (import, delayed delete, deactivation) and are kept for compatibility.
    """

    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    KILLED = "killed"
    DELETED = "deleted"
    PENDING_DELETE = "pending_delete"
    DEACTIVATED = "deactivated"
    UPLOADING = "uploading"
    IMPORTING = "importing"


class Visibility(models.TextChoices):
    """Who sees an image: everyone (public, community), the owner project (private), the owner
    and its members (shared: we keep no members, so the owner alone)."""

    PUBLIC = "public"
    COMMUNITY = "community"
    SHARED = "shared"
    PRIVATE = "private"


class DiskFormat(models.TextChoices):
    AMI = "ami"
    ARI = "ari"
    AKI = "aki"
    VHD = "vhd"
    VHDX = "vhdx"
    VMDK = "vmdk"
    RAW = "raw"
    QCOW2 = "qcow2"
    VDI = "vdi"
    ISO = "iso"
    PLOOP = "ploop"


class ContainerFormat(models.TextChoices):
    AMI = "ami"
    ARI = "ari"
    AKI = "aki"
    BARE = "bare"
    OVF = "ovf"
    OVA = "ova"
    DOCKER = "docker"
    COMPRESSED = "compressed"


# Glance's default for a new image when the request names no visibility.
DEFAULT_VISIBILITY = Visibility.SHARED
# The secure hash Glance computes next to the md5 "checksum".
HASH_ALGO = "sha512"

# Attributes the server computes: a request naming them is refused (403, as Glance).
READ_ONLY_ATTRIBUTES = frozenset(
    {
        "created_at",
        "updated_at",
        "status",
        "checksum",
        "size",
        "virtual_size",
        "direct_url",
        "self",
        "file",
        "schema",
        "id",
        "os_hash_algo",
        "os_hash_value",
        "stores",
        "locations",
    }
)
# Names Glance keeps for itself; never accepted as extra properties.
RESERVED_ATTRIBUTES = frozenset({"location", "deleted", "deleted_at"})
RESERVED_PREFIX = "os_glance"
# Attributes that are columns, not free-form properties.
BASE_ATTRIBUTES = frozenset(
    {
        "checksum",
        "created_at",
        "container_format",
        "disk_format",
        "id",
        "min_disk",
        "min_ram",
        "name",
        "size",
        "virtual_size",
        "status",
        "tags",
        "owner",
        "updated_at",
        "visibility",
        "protected",
        "os_hidden",
        "os_hash_algo",
        "os_hash_value",
    }
)
# Sort keys the list accepts (Glance's), and the default order.
SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
)
DEFAULT_SORT = (("created_at", "desc"),)

"""Enumerated columns of the block-storage app, by Cinder's names (statuses are lowercase:
clients compare them exactly)."""

from django.db import models


class VolumeStatus(models.TextChoices):
    CREATING = "creating"
    DOWNLOADING = "downloading"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ATTACHING = "attaching"
    IN_USE = "in-use"
    DETACHING = "detaching"
    EXTENDING = "extending"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"
    ERROR_EXTENDING = "error_extending"


class SnapshotStatus(models.TextChoices):
    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"


class AttachStatus(models.TextChoices):
    """An attachment's own state: reserved (the API took the volume), attaching (the host
    plugs it), attached, detaching (the host unplugs it)."""

    RESERVED = "reserved"
    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHING = "detaching"


class BackendKind(models.TextChoices):
    """How a storage pool keeps volumes: qcow2 files in a directory, or thin logical volumes."""

    FILE = "file"
    LVM = "lvm"


# Statuses a volume may be deleted from (Cinder's list); any other is a 400.
DELETABLE = (
    VolumeStatus.AVAILABLE,
    VolumeStatus.ERROR,
    VolumeStatus.ERROR_EXTENDING,
)
# The default volume type's name (Cinder's).
DEFAULT_TYPE_NAME = "__DEFAULT__"

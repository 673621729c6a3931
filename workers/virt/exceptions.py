"""Errors of the virt layer: what a hypervisor driver raises to the compute manager.

Every driver method raises these, never ``libvirt.libvirtError`` or ``subprocess`` errors:
the manager turns them into instance faults without knowing which hypervisor it drives. The
message is a template filled from keyword arguments, as ``computecloud.exceptions`` does, but
there is no HTTP status here: this layer knows nothing of the API (docs/decisions/0002).
"""

from typing import Any


class VirtError(Exception):
    """Base of every virt-layer error: a message template and the values that fill it."""

    msg_fmt: str = "An unknown hypervisor error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.message = message if message is not None else self.msg_fmt % kwargs
        super().__init__(self.message)


class HypervisorUnavailable(VirtError):
    msg_fmt = "The hypervisor at %(uri)s is not reachable: %(reason)s"


class InstanceNotFound(VirtError):
    msg_fmt = "Instance %(instance_uuid)s could not be found on this host."


class InstanceExists(VirtError):
    msg_fmt = "Instance %(instance_uuid)s already exists on this host."


class InvalidDriverState(VirtError):
    """The domain is in a state that does not allow the operation (pause a stopped guest)."""

    msg_fmt = "Cannot %(action)s instance %(instance_uuid)s while it is %(state)s."


class InstanceOperationFailed(VirtError):
    """The hypervisor refused or failed an operation for another reason."""

    msg_fmt = "%(action)s of instance %(instance_uuid)s failed: %(reason)s"


class UnsupportedHardware(VirtError):
    """An image property asks for hardware this driver does not offer (hw_disk_bus=floppy)."""

    msg_fmt = "%(prop)s=%(value)s is not supported; choose one of: %(allowed)s"


class ImageDownloadFailed(VirtError):
    msg_fmt = "Image %(image_id)s could not be downloaded: %(reason)s"


class ImageChecksumMismatch(VirtError):
    msg_fmt = (
        "Image %(image_id)s failed verification: its %(algorithm)s is %(actual)s, "
        "expected %(expected)s."
    )


class ImageUnacceptable(VirtError):
    """The image data is not what it claims (format, backing file) or cannot be used.

    Its reason is written for the image's user (the server's fault shows it, as Nova shows
    its ImageUnacceptable): the image's own values, never host paths or tool output."""

    msg_fmt = "Image %(image_id)s is unacceptable: %(reason)s"


class FlavorDiskSmallerThanImage(VirtError):
    msg_fmt = (
        "The flavor's disk is too small for the requested image: the flavor has "
        "%(flavor_size)d bytes, the image needs %(image_size)d bytes."
    )


class DiskOperationFailed(VirtError):
    """qemu-img (or genisoimage) exited with an error."""

    msg_fmt = "%(command)s failed: %(reason)s"


class SpawnFailed(VirtError):
    msg_fmt = "Spawning instance %(instance_uuid)s failed: %(reason)s"


class ConfigDriveFailed(VirtError):
    msg_fmt = "The config drive of instance %(instance_uuid)s could not be built: %(reason)s"


class SnapshotFailed(VirtError):
    msg_fmt = "Snapshot of instance %(instance_uuid)s failed: %(reason)s"


class MigrationFailed(VirtError):
    msg_fmt = "Migration of instance %(instance_uuid)s failed: %(reason)s"


class ConsoleNotAvailable(VirtError):
    msg_fmt = "Instance %(instance_uuid)s has no %(console_type)s console: %(reason)s"


class InterfaceNotFound(VirtError):
    msg_fmt = "Instance %(instance_uuid)s has no interface for port %(port_id)s on this host."


class InterfaceDetachFailed(VirtError):
    """The guest did not release the NIC in time (a guest still booting ignores the request)."""

    msg_fmt = "Port %(port_id)s could not be detached from instance %(instance_uuid)s: %(reason)s"


class VolumeAttachFailed(VirtError):
    msg_fmt = "Volume %(volume_id)s could not be attached to instance %(instance_uuid)s: %(reason)s"


class VolumeDetachFailed(VirtError):
    """The guest did not release the disk in time (a guest still booting ignores the request)."""

    msg_fmt = (
        "Volume %(volume_id)s could not be detached from instance %(instance_uuid)s: %(reason)s"
    )

"""Volume errors: each carries its HTTP code and Cinder's message (the volume API renders them
in Cinder's shape, the compute API in Nova's)."""

from computecloud.exceptions import InvalidInput, NotFound


class VolumeNotFound(NotFound):
    msg_fmt = "Volume %(volume_id)s could not be found."


class SnapshotNotFound(NotFound):
    msg_fmt = "Snapshot %(snapshot_id)s could not be found."


class VolumeNotAvailable(InvalidInput):
    """Attach of a volume that is not available (Nova answers 400)."""

    msg_fmt = "Invalid volume: volume %(volume_id)s status must be 'available', not %(status)s."


class VolumeOnOtherHost(InvalidInput):
    """A volume on one host's disk (a pool that is not shared) and a guest on another."""

    msg_fmt = (
        "Invalid volume: volume %(volume_id)s is stored on host %(pool)s and can be attached "
        "only to servers on that host."
    )


class VolumeTypeNotFound(NotFound):
    msg_fmt = "Volume type %(type_id)s could not be found."


class InvalidVolume(InvalidInput):
    """A request the volume's state or shape does not allow (Cinder's 400 InvalidVolume)."""

    msg_fmt = "Invalid volume: %(reason)s"


class InvalidSnapshot(InvalidInput):
    msg_fmt = "Invalid snapshot: %(reason)s"

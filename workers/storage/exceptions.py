"""What the storage agent raises: every failure is a `StorageError` saying what and why."""


class StorageError(Exception):
    """A storage operation failed (a command's own message is in it)."""


class StorageUnavailable(StorageError):
    """The configured backend cannot work on this host (checked at start-up)."""


class VolumeNotFound(StorageError):
    def __init__(self, volume_id: str) -> None:
        super().__init__(f"volume {volume_id} is not in this host's pool")
        self.volume_id = volume_id


class SnapshotNotFound(StorageError):
    def __init__(self, snapshot_id: str) -> None:
        super().__init__(f"snapshot {snapshot_id} is not in this host's pool")
        self.snapshot_id = snapshot_id

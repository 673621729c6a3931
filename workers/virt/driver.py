"""The hypervisor boundary: the `ComputeDriver` contract and the values that cross it.

The compute manager (workers/compute/manager.py) calls only what is declared here; every
hypervisor-specific detail lives below ``workers/virt/<driver>/``. The docstrings of
`ComputeDriver` are the contract (Nova's nova/virt/driver.py idea): what each method must do,
what it may assume, what it raises. Drivers raise ``workers.virt.exceptions`` classes only.

The value types round-trip through JSON (``from_payload``/``to_payload``) because they arrive
in and leave by Celery task payloads; the compute worker holds no database credentials
(docs/decisions/0002-compute-without-database.md). The payloads' shapes are defined once, in
`computecloud.wire`, for the conductor that writes them and the drivers that read them.
``from_payload`` ignores keys it does not know, so a control plane one release ahead can add
fields without breaking older workers.

This module must not import Django, Celery or computecloud beyond the plain
`computecloud.wire` (import-linter contracts).
"""

import abc
import dataclasses
import enum
import uuid as uuid_lib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, cast

from computecloud.wire import BlockDevicePayload, ImagePayload, InstancePayload, VifPayload


class PowerState(enum.IntEnum):
    """What the hypervisor says a guest is doing, in Nova's numbers (nova/compute/power_state.py).

    These integers are the wire format: the control plane stores them in
    ``Server.power_state`` (apps/servers/states.py ``PowerState`` has the same values).
    """

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


def _known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``data`` that are fields of dataclass ``cls``; missing required → KeyError."""
    names = {f.name for f in dataclasses.fields(cls)}
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = required - data.keys()
    if missing:
        raise KeyError(f"{cls.__name__} payload lacks {', '.join(sorted(missing))}")
    return {k: v for k, v in data.items() if k in names}


def _canonical_uuid(value: str) -> str:
    """The lower-case hyphenated form; anything else is refused, since uuids become paths."""
    return str(uuid_lib.UUID(str(value)))


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VifSpec:
    """One virtual NIC plugged into a Linux bridge on this host (not used by spawn callers yet).

    ``ip_address``/``cidr``/``gateway``/``dns`` describe the fixed IP the network service gave
    the port; they go to the guest in the config drive's network_data.json. No
    ``ip_address`` means the guest uses DHCP.
    """

    id: str
    mac: str
    bridge: str
    network_id: str = ""
    network_name: str = ""
    ip_address: str | None = None
    cidr: str | None = None  # the subnet, e.g. "10.77.0.0/24"
    gateway: str | None = None
    dns: list[str] = field(default_factory=list)
    mtu: int | None = None
    model: str | None = None  # NIC model; None: the image's hw_vif_model, else virtio

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "VifSpec":
        values = _known_fields(cls, data)
        values["dns"] = list(values.get("dns") or [])
        return cls(**values)

    def to_payload(self) -> VifPayload:
        return cast(VifPayload, dataclasses.asdict(self))


@dataclass(frozen=True)
class BlockDeviceSpec:
    """A volume on this host (a file or block device) that the guest has, at boot or
    hot-plugged. The control plane names it (``volume_id``, its pool's ``backend``); the
    host's storage agent fills ``path``, ``source_type`` and ``disk_format``. ``boot_index``
    0 makes it the root disk (boot from volume): the guest then has no image disk."""

    volume_id: str
    path: str = ""
    device_name: str | None = None  # e.g. "vdb"; None: the next free name on the bus
    disk_bus: str = "virtio"
    disk_format: str = "raw"
    source_type: str = "file"  # "file" or "block"
    read_only: bool = False
    backend: str = ""
    boot_index: int | None = None

    @property
    def is_root(self) -> bool:
        return self.boot_index == 0

    @property
    def serial(self) -> str:
        """What the guest sees as the disk's serial (it keeps 20 characters)."""
        return self.volume_id[:20]

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "BlockDeviceSpec":
        return cls(**_known_fields(cls, data))

    def to_payload(self) -> BlockDevicePayload:
        return cast(BlockDevicePayload, dataclasses.asdict(self))


@dataclass(frozen=True)
class InstanceSpec:
    """Everything a driver needs to build or rebuild one guest; the task payload carries it.

    Sizes are the flavor's: ``memory_mb`` MiB, ``root_gb``/``ephemeral_gb`` GiB (root 0 means
    "the image's size"), ``swap_mb`` MiB. ``image_meta`` is the image's record as Glance shows
    it: ``disk_format``, ``container_format`` and ``properties`` (hw_machine_type,
    hw_disk_bus, hw_cdrom_bus, hw_vif_model, hw_video_model). ``user_data`` is base64, as the
    API received it. ``public_keys`` maps key pair name to OpenSSH public key.
    """

    uuid: str
    name: str
    hostname: str
    memory_mb: int
    vcpus: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    flavor_name: str = ""
    image_id: str | None = None
    image_meta: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    user_data: str | None = None
    public_keys: dict[str, str] = field(default_factory=dict)
    config_drive: bool = False
    availability_zone: str | None = None
    project_id: str = ""
    user_id: str = ""
    launch_index: int = 0
    network_info: list[VifSpec] = field(default_factory=list)
    block_devices: list[BlockDeviceSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "uuid", _canonical_uuid(self.uuid))
        for name in ("memory_mb", "vcpus"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("root_gb", "ephemeral_gb", "swap_mb"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative")

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "InstanceSpec":
        values = _known_fields(cls, data)
        values["network_info"] = [VifSpec.from_payload(v) for v in values.get("network_info") or []]
        values["block_devices"] = [
            BlockDeviceSpec.from_payload(b) for b in values.get("block_devices") or []
        ]
        for name in ("image_meta", "metadata", "public_keys"):
            values[name] = dict(values.get(name) or {})
        return cls(**values)

    def to_payload(self) -> InstancePayload:
        return cast(InstancePayload, dataclasses.asdict(self))

    @property
    def root_volume(self) -> BlockDeviceSpec | None:
        """The volume the guest boots from (boot index 0), or None: it boots from its image."""
        return next((b for b in self.block_devices if b.is_root), None)

    def image_property(self, name: str, default: str | None = None) -> str | None:
        """One of the image's ``properties`` (hw_disk_bus, ...), as a string, or ``default``."""
        value = (self.image_meta.get("properties") or {}).get(name)
        return default if value in (None, "") else str(value)


@dataclass(frozen=True)
class ImageSource:
    """Where and how to fetch an image's data, and how to know it arrived intact.

    ``url`` is an HTTP(S) download URL; it may carry a short-lived signed token, so it is
    never logged whole. ``checksum`` is Glance's md5 hex; ``os_hash_algo``/``os_hash_value``
    its multihash (sha512 by default). At least one of them must be present.
    ``container_format`` "bare" means the data is the disk itself; "ova" a tar of several
    (only used for migration transfers).
    """

    image_id: str
    url: str
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    size: int | None = None
    disk_format: str = "qcow2"
    container_format: str = "bare"

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> "ImageSource":
        return cls(**_known_fields(cls, data))

    def to_payload(self) -> ImagePayload:
        return cast(ImagePayload, dataclasses.asdict(self))


@dataclass(frozen=True)
class HostFacts:
    """What a hypervisor host has; reported at start-up and with inventories.

    ``local_gb`` is the size of the filesystem holding the instances directory, in GiB.
    ``hypervisor_version`` is encoded as Nova does: major * 1_000_000 + minor * 1000 + micro
    (QEMU 7.2.22 → 7002022). ``cpu_info`` has ``arch``, ``model``, ``vendor``,
    ``topology`` (sockets, cores, threads) and ``features``.
    """

    hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    cpu_info: dict[str, Any]
    hypervisor_type: str
    hypervisor_version: int
    capabilities: dict[str, bool]

    def to_payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot image written by `ComputeDriver.snapshot`: a standalone qcow2 file."""

    path: Path
    size: int  # bytes of the file
    virtual_size: int  # bytes the guest sees
    checksum: str  # md5 hex, Glance's "checksum"
    os_hash_algo: str
    os_hash_value: str
    disk_format: str = "qcow2"
    container_format: str = "bare"

    def to_payload(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "path": str(self.path)}


class ConsoleEndpoint(NamedTuple):
    """Where a console proxy reaches a guest's VNC server."""

    host: str
    port: int


@dataclass(frozen=True)
class InstanceEvent:
    """A guest changed power state on its own or by our hand (for power-state sync).

    ``transition`` is one of "started", "stopped", "paused", "resumed", "suspended",
    "crashed".
    """

    uuid: str
    transition: str
    power_state: PowerState


EventListener = Callable[[InstanceEvent], None]


class ComputeDriver(abc.ABC):
    """The contract between the compute manager and a hypervisor.

    General rules for every method:

    - An instance is named by its uuid; a driver manages only guests it created (others on
      the same hypervisor are invisible through this interface).
    - Methods raise ``workers.virt.exceptions`` classes only: ``InstanceNotFound`` when the
      guest does not exist here, ``InvalidDriverState`` when its state forbids the operation,
      ``HypervisorUnavailable`` when the hypervisor cannot be reached.
    - Operations that reach a state are idempotent: asking for the state the guest is already
      in succeeds without doing anything, so a redelivered task is harmless.
    - The caller serialises operations on one instance (the control plane's task state
      compare-and-set guarantees at most one in flight); a driver need not lock per instance.
    - Calls block until the operation is finished; none of them is asynchronous.
    """

    #: Feature flags (Nova's supports_* capabilities), reported with the host's facts and
    #: matched as traits by the scheduler instead of ``if driver == ...`` branches.
    capabilities: ClassVar[Mapping[str, bool]] = {
        "supports_pause": False,
        "supports_suspend": False,
        "supports_snapshot": False,
        "supports_resize": False,
        "supports_cold_migration": False,
        "supports_vnc": False,
        "supports_config_drive": False,
        "supports_events": False,
    }

    # --- host -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def init_host(self) -> None:
        """Connect to the hypervisor and prepare local directories; called once at start-up.

        Raises HypervisorUnavailable if the hypervisor cannot be reached, and VirtError if
        it cannot run the configured kind of guest.
        """

    def cleanup_host(self) -> None:  # noqa: B027 -- optional hook, nothing to release by default
        """Release the hypervisor connection at shutdown. Optional."""

    @abc.abstractmethod
    def get_host_facts(self) -> HostFacts:
        """Describe this host: capacity, usage, CPU, hypervisor type and version."""

    @abc.abstractmethod
    def get_inventory(self) -> dict[str, dict[str, int]]:
        """Totals per resource class: ``{"VCPU": {"total", "min_unit", "max_unit",
        "step_size"}, "MEMORY_MB": {...}, "DISK_GB": {...}}``. Reservations and allocation
        ratios are the control plane's business, not the driver's."""

    @abc.abstractmethod
    def list_instance_uuids(self) -> list[str]:
        """The uuids of every guest this driver manages here, running or not."""

    @abc.abstractmethod
    def list_instance_files(self) -> list[str]:
        """The uuids of every instance with files here (disks, a resize's source copy),
        whether or not a guest is defined for it: what a reclaim may have to remove."""

    def instance_exists(self, instance_uuid: str) -> bool:
        """Whether the guest is defined on this host."""
        return instance_uuid in self.list_instance_uuids()

    # --- life cycle -----------------------------------------------------------------------------

    @abc.abstractmethod
    def spawn(
        self,
        instance: InstanceSpec,
        image: ImageSource | None,
        network_info: list[VifSpec] | None = None,
        block_device_info: list[BlockDeviceSpec] | None = None,
    ) -> None:
        """Create the guest from ``image`` and start it; return once it is running.

        ``network_info``/``block_device_info`` replace the instance's own lists when given;
        block devices come with their ``path`` filled (the storage agent's). One with boot
        index 0 is the root disk (the first disk, booted from): no image is fetched and no
        root disk made then, and ``image`` may be None. Otherwise fetches (and caches) the
        image, verifying its checksum, and builds the root disk grown to ``root_gb``. Then
        ephemeral and swap disks, and a config drive when ``instance.config_drive``. If
        spawn fails, any partial instance is cleaned up (no guest defined, no files left; a
        volume is never touched) before the error is raised: ImageDownloadFailed,
        ImageChecksumMismatch, ImageUnacceptable, FlavorDiskSmallerThanImage,
        UnsupportedHardware, or SpawnFailed for anything else. InstanceExists if the guest
        is already defined here (nothing is touched then).
        """

    @abc.abstractmethod
    def attach_interface(self, instance_uuid: str, vif: VifSpec) -> None:
        """Plug a NIC on ``vif.bridge`` into the guest, live when it runs, and keep it in its
        definition. Already attached (same port): nothing to do."""

    @abc.abstractmethod
    def detach_interface(self, instance_uuid: str, port_id: str, timeout: float = 30.0) -> None:
        """Unplug the port's NIC and wait, at most ``timeout`` seconds, until the guest has
        let it go (InterfaceDetachFailed beyond). Not attached: nothing to do."""

    @abc.abstractmethod
    def attach_volume(self, instance_uuid: str, volume: BlockDeviceSpec) -> str:
        """Give the guest the volume (``volume.path`` filled), live when it runs (hot-plug)
        and in its definition, with the volume id as the disk's serial; return the device
        name it has (``volume.device_name`` when given and free, else the next free one).
        Already attached (same volume): its device name, nothing else done."""

    @abc.abstractmethod
    def detach_volume(
        self, instance_uuid: str, volume_id: str, device_name: str | None = None,
        timeout: float = 120.0,
    ) -> str | None:  # fmt: skip
        """Take the volume (found by its serial, else by ``device_name``) from the guest and
        return the device name it had. Live, the guest must let go: the request is repeated
        until the domain no longer lists the disk, at most ``timeout`` seconds
        (VolumeDetachFailed beyond: a guest still booting ignores the request). A stopped
        guest loses it from its definition at once. Not attached, or no such guest: None."""

    @abc.abstractmethod
    def extend_volume(self, instance_uuid: str, volume_id: str, size_bytes: int) -> bool:
        """Tell the running guest its volume is now ``size_bytes`` (QEMU grows a qcow2 file
        it holds itself); True when done, False when the guest is not running or does not
        have the volume (nothing to tell)."""

    @abc.abstractmethod
    def fetch_image(self, image: ImageSource) -> Path:
        """The local, verified qcow2 file of ``image`` (from this host's image cache,
        downloaded on first use): what a volume created from an image is written from.
        Raises as `spawn` does for images."""

    @abc.abstractmethod
    def destroy(self, instance_uuid: str, *, delete_files: bool = True) -> None:
        """Stop the guest at once (no clean shutdown), undefine it and, with ``delete_files``,
        remove its disks, config drive and logs. Idempotent: a guest that does not exist
        (or exists only partly) is not an error. A resize's source copy is kept."""

    @abc.abstractmethod
    def reboot(self, instance_uuid: str, hard: bool = False) -> None:
        """Restart the guest. Soft: ask the guest OS to shut down (ACPI), wait up to the
        clean shutdown timeout for it to stop, then start it; a guest that does not stop in
        time, or is not running, gets a hard reboot instead. Hard: stop it at once (dropping
        a suspended state) and start it. The guest is running on return."""

    @abc.abstractmethod
    def power_off(self, instance_uuid: str, timeout: float | None = None) -> None:
        """Stop the guest: ACPI shutdown, then force it off after ``timeout`` seconds (None:
        the configured clean shutdown timeout; 0: force at once). A suspended guest's saved
        state is discarded. Already stopped: nothing to do."""

    @abc.abstractmethod
    def power_on(self, instance_uuid: str) -> None:
        """Start a stopped guest (a paused one is resumed). Already running: nothing to do."""

    @abc.abstractmethod
    def pause(self, instance_uuid: str) -> None:
        """Freeze the guest's vCPUs, keeping its memory in place. InvalidDriverState unless
        it is running (or already paused)."""

    @abc.abstractmethod
    def unpause(self, instance_uuid: str) -> None:
        """Let a paused guest run again. InvalidDriverState unless paused (or running)."""

    @abc.abstractmethod
    def suspend(self, instance_uuid: str) -> None:
        """Save the guest's memory to disk and stop it (power state SUSPENDED); `resume`
        restores it. InvalidDriverState if it is stopped."""

    @abc.abstractmethod
    def resume(self, instance_uuid: str) -> None:
        """Restore a suspended guest. InvalidDriverState unless suspended (or running)."""

    # --- state ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_power_state(self, instance_uuid: str) -> PowerState:
        """The guest's power state; InstanceNotFound if it is not defined here."""

    @abc.abstractmethod
    def get_all_power_states(self) -> dict[str, PowerState]:
        """Power state of every guest this driver manages here, by uuid (one call for the
        periodic power-state sync)."""

    def register_event_listener(self, listener: EventListener | None) -> None:  # noqa: B027
        """Call ``listener`` with an InstanceEvent whenever a guest changes power state
        (``None`` unregisters). The listener runs on the driver's event thread: it must
        return quickly and must not call the driver. Optional: drivers without events
        rely on the periodic `get_all_power_states`."""

    # --- images and disks -----------------------------------------------------------------------

    @abc.abstractmethod
    def snapshot(self, instance_uuid: str, dest_path: Path) -> SnapshotInfo:
        """Write a standalone (flattened, no backing file) qcow2 copy of the guest's root
        disk to ``dest_path`` and return its size and checksums (md5, sha512). A running or
        paused guest is copied consistently (crash-consistent, as a power cut would leave
        it) and stays in its power state. SnapshotFailed on failure; ``dest_path`` does not
        exist then."""

    @abc.abstractmethod
    def migrate_disk_and_power_off(self, instance_uuid: str, timeout: float | None = None) -> Path:
        """First half of a resize or cold migration, on the source host.

        Powers the guest off (clean shutdown up to ``timeout``), undefines it here and moves
        its files aside as the source copy (kept for `finish_revert_migration`, removed by
        `confirm_migration`). Returns the one file to hand to the destination, in a
        directory that also holds the flattened disks and ``manifest.json`` (names, sizes,
        sha256), which the destination may be given instead (same host, shared mount):

        - a guest with only a root disk: that disk, a standalone qcow2 (no backing file);
          upload it as a qcow2/bare transfer image;
        - a guest with an ephemeral disk too: an uncompressed tar of the manifest and both
          flattened disks; upload it with container_format "ova".

        Idempotent: a redelivered task gets the same file back.
        """

    @abc.abstractmethod
    def finish_migration(
        self,
        instance: InstanceSpec,
        disk_source: str | Path | ImageSource,
        image: ImageSource | None,
        power_on: bool = True,
    ) -> None:
        """Second half, on the destination host.

        ``disk_source`` is what `migrate_disk_and_power_off` produced, reached as: an
        ImageSource (the transfer image, downloaded and verified by its checksums), an
        http(s) URL or a local path of that file, or the local directory holding it. A tar
        or directory is checked file by file against its manifest; every disk must be a
        qcow2 without backing file. The root disk is grown to the new flavor's ``root_gb``
        (shrinking is refused), missing ephemeral/swap disks are made blank, the config
        drive is rebuilt, and the guest is defined with the new flavor's memory and vCPUs
        and started if ``power_on``. With ``image``, the root disk is re-based on the
        locally cached image so only the guest's changes take space. On failure nothing is
        left here (the source copy is untouched, so the resize can be reverted):
        MigrationFailed. A redelivered task finds the guest defined and only powers it on.
        """

    @abc.abstractmethod
    def confirm_migration(self, instance_uuid: str) -> None:
        """On the source host: drop the source copy. Idempotent. Also needed after a
        resize on the same host: it never touches the resized guest, only the copy."""

    @abc.abstractmethod
    def finish_revert_migration(self, instance: InstanceSpec, power_on: bool = True) -> None:
        """On the source host: bring the guest back from its source copy with ``instance``'s
        (old) flavor and start it if ``power_on``. The caller has destroyed the
        destination's guest first. MigrationFailed if there is no source copy."""

    # --- consoles -------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_console_output(self, instance_uuid: str, max_lines: int | None = None) -> str:
        """The guest's serial console output across its boots (capped by size), the last
        ``max_lines`` lines when given. InstanceNotFound if the guest is not here."""

    @abc.abstractmethod
    def get_vnc_console(self, instance_uuid: str) -> ConsoleEndpoint:
        """Host and TCP port of the running guest's VNC server. ConsoleNotAvailable if it is
        not running or has no VNC."""

    # --- housekeeping ---------------------------------------------------------------------------

    def manage_image_cache(self, *, min_unused_age: float) -> list[Path]:
        """Remove cached base images no guest here uses and that nobody used for
        ``min_unused_age`` seconds; return what was removed. Optional (periodic)."""
        return []

    def trim_console_logs(self) -> None:  # noqa: B027 -- optional hook
        """Cap every guest's console log at its configured size. Optional (periodic); a
        driver also caps a log whenever it starts the guest or reads the log."""

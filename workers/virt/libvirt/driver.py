"""The libvirt implementation of `ComputeDriver`: orchestration of host, guest, disks, files.

Per instance, on this host (``INSTANCES_PATH``, mode 0755 so QEMU can reach the files)::

    <uuid>/disk            qcow2 overlay on the cached base image, grown to root_gb
    <uuid>/disk.eph0       blank qcow2 ephemeral disk (ephemeral_gb > 0)
    <uuid>/disk.swap       blank qcow2 swap disk (swap_mb > 0)
    <uuid>/disk.config     config drive ISO (config_drive), mode 0600: it holds user data
    <uuid>/console.log     serial console, kept across boots (append='on'), capped by size
    <uuid>_resize/         the source copy during a resize or cold migration
    <uuid>_resize/outbox/  flattened disks and manifest.json for the destination to fetch

Domains are named ``instance-<uuid>``; domains with other names are not ours and are
invisible through this driver (the test driver's built-in ``test`` domain, for one).

Preconditions: the caller (workers/compute/manager.py) serialises operations on one
instance; QEMU runs as root or can read INSTANCES_PATH and IMAGE_CACHE_PATH.
The contract each method fulfils is written in workers/virt/driver.py.
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import string
import tarfile
import time
import urllib.error
import uuid as uuid_lib
from pathlib import Path
from typing import Any, Protocol

import libvirt

from computecloud.wire import tap_name
from workers.transfer import ControlPlane
from workers.virt import exceptions
from workers.virt.driver import (
    BlockDeviceSpec,
    ComputeDriver,
    ConsoleEndpoint,
    EventListener,
    HostFacts,
    ImageSource,
    InstanceEvent,
    InstanceSpec,
    PowerState,
    SnapshotInfo,
    VifSpec,
)
from workers.virt.libvirt import qemuimg
from workers.virt.libvirt.config import (
    GuestConfig,
    GuestDisk,
    GuestGraphics,
    GuestInterface,
    GuestMetadata,
    GuestSerial,
    disk_xml,
    interface_xml,
)
from workers.virt.libvirt.configdrive import build_config_drive
from workers.virt.libvirt.guest import Guest
from workers.virt.libvirt.host import Host
from workers.virt.libvirt.imagecache import (
    ImageCache,
    check_format,
    download,
    fetch_verified,
    redact_url,
)

logger = logging.getLogger(__name__)

GiB = qemuimg.GiB
MiB = qemuimg.MiB
DOMAIN_PREFIX = "instance-"
DISK, EPHEMERAL, SWAP, CONFIG_DRIVE, CONSOLE_LOG = (
    "disk",
    "disk.eph0",
    "disk.swap",
    "disk.config",
    "console.log",
)
RESIZE_SUFFIX = "_resize"
OUTBOX, MANIFEST, TRANSFER_TAR = "outbox", "manifest.json", "disks.tar"
#: Disks carried to the destination of a migration; swap is recreated blank and the config
#: drive rebuilt from the instance, as Nova does.
MIGRATED_DISKS = (DISK, EPHEMERAL)

VIRT_TYPES = frozenset({"kvm", "qemu"})
#: Image property → allowed values (and the device-name prefix a disk bus gives).
DISK_BUS_PREFIX = {"virtio": "vd", "ide": "hd", "scsi": "sd", "sata": "sd", "usb": "sd"}
CDROM_BUSES = frozenset({"ide", "sata", "scsi", "usb"})
VIF_MODELS = frozenset({"virtio", "e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet"})
VIDEO_MODELS = frozenset({"vga", "cirrus", "virtio", "qxl", "bochs", "none"})
_MACHINE_TYPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_DEVICE_NAME = re.compile(r"^(vd|hd|sd)[a-z]{1,2}$")

# The guest may ignore one ACPI press (still booting); Nova repeats it every 10 s too.
SHUTDOWN_RETRY_INTERVAL_S = 10.0
# A live disk copy of a large disk under load takes a while; past this it is abandoned.
SNAPSHOT_COPY_TIMEOUT_S = 1800.0
_POLL_S = 0.25
# A detach the guest ignored (still booting) is sent again this often until it lets go.
DETACH_RESEND_S = 3.0
_CHUNK = 1024 * 1024


class DriverConfig(Protocol):
    """What LibvirtDriver reads from its configuration (workers.compute.config.ComputeConfig
    has all of it)."""

    @property
    def libvirt_uri(self) -> str: ...
    @property
    def virt_type(self) -> str: ...
    @property
    def instances_path(self) -> Path: ...
    @property
    def image_cache_path(self) -> Path: ...
    @property
    def control_plane_url(self) -> str: ...
    @property
    def vnc_listen(self) -> str: ...
    @property
    def clean_shutdown_timeout(self) -> int: ...
    @property
    def console_log_max_bytes(self) -> int: ...


class LibvirtDriver(ComputeDriver):
    """Guests as libvirt domains (QEMU/KVM, or the test driver for fast tests)."""

    capabilities = {
        "supports_pause": True,
        "supports_suspend": True,
        "supports_snapshot": True,
        "supports_resize": True,
        "supports_cold_migration": True,
        "supports_vnc": True,
        "supports_config_drive": True,
        "supports_events": True,
    }

    def __init__(self, config: DriverConfig) -> None:
        if config.virt_type not in VIRT_TYPES:
            raise ValueError(f"virt_type must be one of {sorted(VIRT_TYPES)}")
        self.config = config
        self.host = Host(config.libvirt_uri)
        # Image data is fetched from the control plane's base URL and nowhere else.
        self.control_plane = ControlPlane.from_url(config.control_plane_url)
        self.image_cache = ImageCache(
            Path(config.image_cache_path), control_plane=self.control_plane
        )
        self._listener: EventListener | None = None

    # --- host -----------------------------------------------------------------------------------

    def init_host(self) -> None:
        for path in (Path(self.config.instances_path), Path(self.config.image_cache_path)):
            if not path.is_dir():
                path.mkdir(mode=0o755, parents=True)
                path.chmod(0o755)  # mkdir's mode is filtered by the umask
        self.host.get_connection()
        hypervisor = self.host.get_type()
        if hypervisor == "QEMU" and not self.host.supports_domain_type(self.config.virt_type):
            raise exceptions.VirtError(
                f"{self.config.libvirt_uri} cannot run {self.config.virt_type} guests"
            )
        self.trim_console_logs()
        logger.info(
            "libvirt driver ready: %s (%s), %s guests, instances in %s",
            self.config.libvirt_uri,
            hypervisor,
            self.config.virt_type,
            self.config.instances_path,
        )

    def cleanup_host(self) -> None:
        self.host.close()

    def get_host_facts(self) -> HostFacts:
        arch, memory_mb, cpus, _mhz, _nodes, sockets, cores, threads = self.host.get_info()[:8]
        cpu_info = self.host.get_cpu_info()
        cpu_info.setdefault("arch", arch)
        if not any(cpu_info.get("topology", {}).values()):
            cpu_info["topology"] = {"sockets": sockets, "cores": cores, "threads": threads}
        disk = os.statvfs(self.config.instances_path)
        local_gb = disk.f_blocks * disk.f_frsize // GiB
        free_gb = disk.f_bavail * disk.f_frsize // GiB
        active = [g for g in self._guests() if self._quietly(g.is_active, False)]
        return HostFacts(
            hostname=self.host.get_hostname(),
            vcpus=int(cpus),
            memory_mb=int(memory_mb),
            local_gb=int(local_gb),
            vcpus_used=sum(self._quietly(g.vcpus, 0) for g in active),
            memory_mb_used=max(0, int(memory_mb) - self.host.get_free_memory() // MiB),
            local_gb_used=int(local_gb - free_gb),
            running_vms=len(active),
            cpu_info=cpu_info,
            hypervisor_type=self.host.get_type(),
            hypervisor_version=self.host.get_version(),
            capabilities=dict(self.capabilities),
        )

    def get_inventory(self) -> dict[str, dict[str, int]]:
        _arch, memory_mb, cpus = self.host.get_info()[:3]
        disk = os.statvfs(self.config.instances_path)
        totals = {
            "VCPU": int(cpus),
            "MEMORY_MB": int(memory_mb),
            "DISK_GB": int(disk.f_blocks * disk.f_frsize // GiB),
        }
        return {
            rc: {"total": total, "min_unit": 1, "max_unit": total, "step_size": 1}
            for rc, total in totals.items()
        }

    def list_instance_uuids(self) -> list[str]:
        return [guest.uuid for guest in self._guests()]

    def list_instance_files(self) -> list[str]:
        root = Path(self.config.instances_path)
        if not root.is_dir():
            return []
        found = set()
        for entry in root.iterdir():
            name = entry.name.removesuffix(RESIZE_SUFFIX)
            with contextlib.suppress(exceptions.InstanceNotFound):  # not an instance's
                if entry.is_dir():
                    found.add(self._uuid(name))
        return sorted(found)

    def instance_exists(self, instance_uuid: str) -> bool:
        try:
            return self.host.find(self._uuid(instance_uuid)) is not None
        except exceptions.InstanceNotFound:
            return False

    # --- life cycle -----------------------------------------------------------------------------

    def spawn(
        self,
        instance: InstanceSpec,
        image: ImageSource | None,
        network_info: list[VifSpec] | None = None,
        block_device_info: list[BlockDeviceSpec] | None = None,
    ) -> None:
        vifs = instance.network_info if network_info is None else network_info
        volumes = instance.block_devices if block_device_info is None else block_device_info
        boots_from_volume = any(v.is_root for v in volumes)
        if self.host.find(instance.uuid) is not None:
            raise exceptions.InstanceExists(instance_uuid=instance.uuid)
        if image is None and not boots_from_volume:
            raise exceptions.SpawnFailed(
                instance_uuid=instance.uuid, reason="neither an image nor a boot volume"
            )
        started = time.monotonic()
        inst_dir = self._instance_dir(instance.uuid)
        try:
            self._make_instance_dir(inst_dir)
            if image is not None and not boots_from_volume:
                base = self.image_cache.fetch(image)
                self._create_root_disk(instance, base, inst_dir / DISK)
            self._create_extra_disks(instance, inst_dir)
            if instance.config_drive:
                build_config_drive(inst_dir / CONFIG_DRIVE, instance, vifs)
            config = self._guest_config(instance, vifs, volumes)
            guest = self.host.define(config.to_xml())
            guest.start()
        except Exception as exc:
            logger.warning("[instance %s] spawn failed, cleaning up: %s", instance.uuid, exc)
            self._remove_instance(instance.uuid)
            if isinstance(exc, _SPAWN_ERRORS_KEPT):
                raise
            if isinstance(exc, exceptions.VirtError | OSError):
                raise exceptions.SpawnFailed(instance_uuid=instance.uuid, reason=str(exc)) from exc
            raise
        logger.info(
            "[instance %s] spawned from %s in %.2f s",
            instance.uuid,
            "a volume" if boots_from_volume or image is None else f"image {image.image_id}",
            time.monotonic() - started,
        )

    def attach_interface(self, instance_uuid: str, vif: VifSpec) -> None:
        guest = self._lookup(instance_uuid)
        interfaces = guest.config().interfaces
        tap = tap_name(vif.id)
        if any(i.target_dev == tap for i in interfaces):
            return  # redelivered: attached already
        # The guest's NICs share one model (the image's hw_vif_model at spawn).
        model = vif.model or (interfaces[0].model if interfaces else "virtio")
        interface = GuestInterface(
            mac=vif.mac, bridge=vif.bridge, model=model, mtu=vif.mtu, target_dev=tap
        )
        guest.attach_device(interface_xml(interface))
        logger.info("[instance %s] port %s attached on %s", instance_uuid, vif.id, vif.bridge)

    def detach_interface(self, instance_uuid: str, port_id: str, timeout: float = 30.0) -> None:
        guest = self.host.find(self._uuid(instance_uuid))
        if guest is None:
            return
        tap = tap_name(port_id)
        deadline = time.monotonic() + timeout
        asked = False
        while True:
            # The live definition when it runs, else the persistent one.
            interface = next((i for i in guest.config().interfaces if i.target_dev == tap), None)
            if interface is None:
                logger.info("[instance %s] port %s detached", instance_uuid, port_id)
                return
            if asked and time.monotonic() >= deadline:
                raise exceptions.InterfaceDetachFailed(
                    instance_uuid=instance_uuid,
                    port_id=port_id,
                    reason=f"the guest still holds it after {timeout:.0f} s",
                )
            # Asked again each round, live only (the definition lost it the first time): a
            # guest that was still booting acknowledges the first request and keeps the NIC.
            guest.detach_device(interface_xml(interface), live_only=asked)
            if not guest.is_active():
                continue
            asked = True
            time.sleep(0.5)

    # --- volumes --------------------------------------------------------------------------------

    def attach_volume(self, instance_uuid: str, volume: BlockDeviceSpec) -> str:
        guest = self._lookup(instance_uuid)
        live, persistent = guest.config(), guest.config(inactive=True)
        for config in (live, persistent):
            held = _volume_disk(config.disks, volume.volume_id)
            if held is not None:
                return held.target_dev  # redelivered: attached already
        if not volume.path:
            raise exceptions.VolumeAttachFailed(
                volume_id=volume.volume_id, instance_uuid=instance_uuid, reason="no path given"
            )
        bus = volume.disk_bus if volume.disk_bus in DISK_BUS_PREFIX else "virtio"
        names = _DeviceNames()
        for disk in (*live.disks, *persistent.disks):
            names.reserve(disk.target_dev)
        wanted = (volume.device_name or "").removeprefix("/dev/")
        if wanted.startswith(DISK_BUS_PREFIX[bus]) and names.is_free(wanted):
            device = names.take(wanted)
        else:  # none asked, or taken (the guest names disks in probe order anyway)
            device = names.next(bus)
        disk = _volume_guest_disk(volume, device, bus)
        try:
            guest.attach_device(disk_xml(disk))
        except exceptions.InstanceOperationFailed as exc:
            raise exceptions.VolumeAttachFailed(
                volume_id=volume.volume_id, instance_uuid=instance_uuid, reason=str(exc)
            ) from exc
        logger.info(
            "[instance %s] volume %s attached as %s", instance_uuid, volume.volume_id, device
        )
        return device

    def detach_volume(
        self,
        instance_uuid: str,
        volume_id: str,
        device_name: str | None = None,
        timeout: float = 120.0,
    ) -> str | None:
        try:
            guest = self.host.find(self._uuid(instance_uuid))
        except exceptions.InstanceNotFound:
            return None
        if guest is None:
            return None
        wanted = (device_name or "").removeprefix("/dev/") or None
        deadline = time.monotonic() + timeout
        sent_at: float | None = None
        found: str | None = None
        while True:
            active = guest.is_active()
            in_live = _volume_disk(guest.config().disks, volume_id, wanted) if active else None
            in_def = _volume_disk(guest.config(inactive=True).disks, volume_id, wanted)
            held = in_live or in_def
            if held is None:
                if found:
                    logger.info("[instance %s] volume %s detached", instance_uuid, volume_id)
                return found
            found = found or held.target_dev
            now = time.monotonic()
            if in_live is not None and sent_at is not None and now >= deadline:
                raise exceptions.VolumeDetachFailed(
                    volume_id=volume_id,
                    instance_uuid=instance_uuid,
                    reason=f"the guest still holds {found} after {timeout:.0f} s",
                )
            if in_live is None:  # stopped, or gone from the guest already: the definition
                guest.detach_device_from(disk_xml(held), live=False, persistent=True)
                continue
            if sent_at is None or now - sent_at >= DETACH_RESEND_S:
                # Repeated: a guest still booting acknowledges the request and keeps the
                # disk (only the domain's disk list tells).
                with contextlib.suppress(exceptions.InstanceOperationFailed):
                    guest.detach_device_from(
                        disk_xml(held), live=True, persistent=in_def is not None
                    )
                sent_at = now
                continue
            time.sleep(_POLL_S)  # poll interval while the guest ejects the disk

    def extend_volume(self, instance_uuid: str, volume_id: str, size_bytes: int) -> bool:
        try:
            guest = self.host.find(self._uuid(instance_uuid))
        except exceptions.InstanceNotFound:
            return False
        if guest is None or not guest.is_active():
            return False
        disk = _volume_disk(guest.config().disks, volume_id)
        if disk is None:
            return False
        guest.block_resize(disk.target_dev, size_bytes)
        logger.info(
            "[instance %s] volume %s (%s) is now %d bytes",
            instance_uuid,
            volume_id,
            disk.target_dev,
            size_bytes,
        )
        return True

    def fetch_image(self, image: ImageSource) -> Path:
        return self.image_cache.fetch(image)

    def destroy(self, instance_uuid: str, *, delete_files: bool = True) -> None:
        try:
            instance_uuid = self._uuid(instance_uuid)
        except exceptions.InstanceNotFound:
            return
        existed = self._destroy_guest(instance_uuid, delete_files=delete_files)
        if delete_files:
            # A resize's source copy belongs to the instance too: deleting it removes both.
            _rmtree(self._resize_dir(instance_uuid))
        # A build clears what an interrupted attempt may have left: "destroyed" in its log only
        # when there was something, or every build's story would say it destroyed the guest.
        if existed:
            logger.info("[instance %s] destroyed", instance_uuid)
        else:
            logger.debug("[instance %s] nothing to destroy", instance_uuid)

    def _destroy_guest(self, instance_uuid: str, *, delete_files: bool) -> bool:
        """The guest and its directory, leaving a resize's source copy alone; whether there
        was either to remove."""
        guest = self.host.find(instance_uuid)
        if guest is not None:
            with contextlib.suppress(exceptions.InstanceNotFound):  # gone meanwhile: fine
                guest.destroy()
                guest.undefine()
        directory = self._instance_dir(instance_uuid)
        existed = guest is not None or (delete_files and directory.exists())
        if delete_files:
            _rmtree(directory)
        return existed

    def reboot(self, instance_uuid: str, hard: bool = False) -> None:
        guest = self._lookup(instance_uuid)
        if not hard:
            running = guest.power_state() == PowerState.RUNNING
            if running and self._clean_shutdown(guest, self.config.clean_shutdown_timeout):
                self._start(guest)
                logger.info("[instance %s] soft rebooted", guest.uuid)
                return
            logger.info("[instance %s] soft reboot not possible; rebooting hard", guest.uuid)
        guest.destroy()
        if guest.has_managed_save():
            guest.remove_managed_save()
        self._start(guest)
        logger.info("[instance %s] hard rebooted", guest.uuid)

    def power_off(self, instance_uuid: str, timeout: float | None = None) -> None:
        guest = self._lookup(instance_uuid)
        if guest.has_managed_save():
            guest.remove_managed_save()
        if not guest.is_active():
            return
        timeout = self.config.clean_shutdown_timeout if timeout is None else timeout
        if guest.power_state() == PowerState.RUNNING and self._clean_shutdown(guest, timeout):
            logger.info("[instance %s] shut down cleanly", guest.uuid)
            return
        guest.destroy()
        logger.info("[instance %s] powered off", guest.uuid)

    def power_on(self, instance_uuid: str) -> None:
        guest = self._lookup(instance_uuid)
        state = guest.power_state()
        if state == PowerState.RUNNING:
            return
        if state == PowerState.PAUSED:
            guest.resume()
            return
        self._start(guest)

    def pause(self, instance_uuid: str) -> None:
        guest = self._lookup(instance_uuid)
        state = self._require(guest, "pause", PowerState.RUNNING, PowerState.PAUSED)
        if state == PowerState.RUNNING:
            guest.pause()

    def unpause(self, instance_uuid: str) -> None:
        guest = self._lookup(instance_uuid)
        state = self._require(guest, "unpause", PowerState.PAUSED, PowerState.RUNNING)
        if state == PowerState.PAUSED:
            guest.resume()

    def suspend(self, instance_uuid: str) -> None:
        guest = self._lookup(instance_uuid)
        state = self._require(
            guest, "suspend", PowerState.RUNNING, PowerState.PAUSED, PowerState.SUSPENDED
        )
        if state != PowerState.SUSPENDED:
            guest.managed_save()

    def resume(self, instance_uuid: str) -> None:
        guest = self._lookup(instance_uuid)
        state = self._require(guest, "resume", PowerState.SUSPENDED, PowerState.RUNNING)
        if state == PowerState.SUSPENDED:
            self._start(guest)

    # --- state ----------------------------------------------------------------------------------

    def get_power_state(self, instance_uuid: str) -> PowerState:
        return self._lookup(instance_uuid).power_state()

    def get_all_power_states(self) -> dict[str, PowerState]:
        states: dict[str, PowerState] = {}
        for guest in self._guests():
            with contextlib.suppress(exceptions.InstanceNotFound):  # undefined meanwhile
                states[guest.uuid] = guest.power_state()
        return states

    def register_event_listener(self, listener: EventListener | None) -> None:
        self._listener = listener
        self.host.set_lifecycle_callback(self._on_lifecycle if listener else None)

    # --- snapshot -------------------------------------------------------------------------------

    def snapshot(self, instance_uuid: str, dest_path: Path) -> SnapshotInfo:
        guest = self._lookup(instance_uuid)
        inst_dir = self._instance_dir(guest.uuid)
        disk = inst_dir / DISK
        dest_path = Path(dest_path)
        part = dest_path.with_name(f".{dest_path.name}.part")
        live_copy = inst_dir / "disk.snapshot"
        started = time.monotonic()
        method = "offline"
        try:
            if not disk.is_file():
                if any(d.serial for d in guest.config().disks if d.target_dev == "vda"):
                    raise exceptions.SnapshotFailed(
                        instance_uuid=guest.uuid,
                        reason="it boots from a volume: snapshot the volume instead",
                    )
                raise exceptions.SnapshotFailed(
                    instance_uuid=guest.uuid, reason=f"its root disk {disk} is missing"
                )
            if guest.is_active():
                target = self._root_target(guest, disk)
                if guest.copy_disk(target, live_copy, timeout=SNAPSHOT_COPY_TIMEOUT_S):
                    method = "live block copy"
                    qemuimg.convert(live_copy, part, src_format="qcow2")
                else:
                    method = "managed save"
                    self._cold_snapshot(guest, disk, part)
            else:
                qemuimg.convert(disk, part, src_format="qcow2")
            info = _snapshot_info(part, dest_path)
            part.replace(dest_path)
        except exceptions.SnapshotFailed:
            raise
        except (exceptions.VirtError, OSError) as exc:
            raise exceptions.SnapshotFailed(instance_uuid=guest.uuid, reason=str(exc)) from exc
        finally:
            for leftover in (live_copy, part):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        logger.info(
            "[instance %s] snapshot written to %s by %s in %.2f s (%d bytes)",
            guest.uuid,
            dest_path,
            method,
            time.monotonic() - started,
            info.size,
        )
        return info

    def _cold_snapshot(self, guest: Guest, disk: Path, dest: Path) -> None:
        """Stop QEMU with its memory saved, copy the quiet disk, restore the guest (as Nova's
        cold snapshot does); used where a live block copy is not supported."""
        was_paused = guest.power_state() == PowerState.PAUSED
        guest.managed_save()
        try:
            qemuimg.convert(disk, dest, src_format="qcow2")
        finally:
            self._start(guest)
            # Not every hypervisor restores a saved guest paused (the test driver does not).
            if was_paused and guest.power_state() == PowerState.RUNNING:
                guest.pause()

    # --- resize and cold migration --------------------------------------------------------------

    def migrate_disk_and_power_off(self, instance_uuid: str, timeout: float | None = None) -> Path:
        instance_uuid = self._uuid(instance_uuid)
        inst_dir = self._instance_dir(instance_uuid)
        resize_dir = self._resize_dir(instance_uuid)
        outbox = resize_dir / OUTBOX
        guest = self.host.find(instance_uuid)
        if guest is None:
            if (outbox / MANIFEST).is_file() and not inst_dir.exists():
                # Redelivered task: the work is done.
                transfer: str = json.loads((outbox / MANIFEST).read_text())["transfer"]
                return outbox / transfer
            raise exceptions.InstanceNotFound(instance_uuid=instance_uuid)
        started = time.monotonic()
        self.power_off(instance_uuid, timeout)
        # A leftover of an attempt that failed before undefining the domain: the domain
        # still being here proves it is not a live source copy.
        _rmtree(resize_dir)
        os.rename(inst_dir, resize_dir)
        try:
            transfer_path = self._fill_outbox(instance_uuid, resize_dir, outbox)
            guest.undefine()
        except Exception as exc:
            # Put the instance back as it was: stopped, defined, files in place.
            _rmtree(outbox)
            os.rename(resize_dir, inst_dir)
            if isinstance(exc, exceptions.VirtError | OSError):
                raise exceptions.MigrationFailed(
                    instance_uuid=instance_uuid, reason=str(exc)
                ) from exc
            raise
        logger.info(
            "[instance %s] disks ready for migration in %s (%.2f s)",
            instance_uuid,
            transfer_path,
            time.monotonic() - started,
        )
        return transfer_path

    @staticmethod
    def _fill_outbox(instance_uuid: str, resize_dir: Path, outbox: Path) -> Path:
        """Write the flattened disks, their manifest and the one file to hand over."""
        outbox.mkdir(mode=0o755)
        outbox.chmod(0o755)
        files: dict[str, dict[str, Any]] = {}
        for name in MIGRATED_DISKS:
            if (resize_dir / name).is_file():
                # Flattened: the destination needs no backing file.
                qemuimg.convert(resize_dir / name, outbox / name, src_format="qcow2")
                (outbox / name).chmod(0o644)
                files[name] = _file_digest(outbox / name)
        # One disk travels as itself (a plain qcow2 image); several as an uncompressed tar
        # with the manifest (an "ova" container in image-service terms).
        transfer = DISK if list(files) == [DISK] else TRANSFER_TAR
        manifest = {"instance_uuid": instance_uuid, "files": files, "transfer": transfer}
        (outbox / MANIFEST).write_text(json.dumps(manifest, indent=1))
        (outbox / MANIFEST).chmod(0o644)
        if transfer == TRANSFER_TAR:
            with tarfile.open(outbox / TRANSFER_TAR, "w", format=tarfile.PAX_FORMAT) as tar:
                for name in (MANIFEST, *files):
                    tar.add(outbox / name, arcname=name)
            (outbox / TRANSFER_TAR).chmod(0o644)
        return outbox / transfer

    def finish_migration(
        self,
        instance: InstanceSpec,
        disk_source: str | Path | ImageSource,
        image: ImageSource | None,
        power_on: bool = True,
    ) -> None:
        inst_dir = self._instance_dir(instance.uuid)
        existing = self.host.find(instance.uuid)
        if existing is not None and inst_dir.is_dir():
            # Redelivered task: the guest was already defined here by an earlier run.
            if power_on:
                self.power_on(instance.uuid)
            return
        started = time.monotonic()
        try:
            _rmtree(inst_dir)  # a partial earlier attempt
            self._make_instance_dir(inst_dir)
            incoming = inst_dir / "incoming"
            incoming.mkdir()
            # A guest booted from a volume has no root disk to bring: the volume is its root.
            from_volume = instance.root_volume is not None
            self._fetch_migration_disks(
                instance.uuid, disk_source, incoming, root_required=not from_volume
            )
            root = inst_dir / DISK
            if not from_volume:
                if image is not None:
                    # Share the cached base again; only the guest's own changes take space.
                    base = self.image_cache.fetch(image)
                    qemuimg.convert(incoming / DISK, root, src_format="qcow2", backing=base)
                else:
                    (incoming / DISK).rename(root)
                self._grow(instance, root, instance.root_gb * GiB)
            if (incoming / EPHEMERAL).is_file():
                (incoming / EPHEMERAL).rename(inst_dir / EPHEMERAL)
                self._grow(instance, inst_dir / EPHEMERAL, instance.ephemeral_gb * GiB)
            elif instance.ephemeral_gb:
                qemuimg.create(inst_dir / EPHEMERAL, size_bytes=instance.ephemeral_gb * GiB)
            if instance.swap_mb:
                qemuimg.create(inst_dir / SWAP, size_bytes=instance.swap_mb * MiB)
            _rmtree(incoming)
            if instance.config_drive:
                build_config_drive(inst_dir / CONFIG_DRIVE, instance, instance.network_info)
            config = self._guest_config(instance, instance.network_info, instance.block_devices)
            guest = self.host.define(config.to_xml())
            if power_on:
                self._start(guest)
        except Exception as exc:
            logger.warning("[instance %s] finish_migration failed: %s", instance.uuid, exc)
            self._remove_instance(instance.uuid)
            if isinstance(exc, exceptions.VirtError | OSError):
                raise exceptions.MigrationFailed(
                    instance_uuid=instance.uuid, reason=str(exc)
                ) from exc
            raise
        logger.info(
            "[instance %s] migration finished here with %d MiB, %d vCPUs (%.2f s)",
            instance.uuid,
            instance.memory_mb,
            instance.vcpus,
            time.monotonic() - started,
        )

    def confirm_migration(self, instance_uuid: str) -> None:
        instance_uuid = self._uuid(instance_uuid)
        _rmtree(self._resize_dir(instance_uuid))
        logger.info("[instance %s] migration confirmed; source copy removed", instance_uuid)

    def finish_revert_migration(self, instance: InstanceSpec, power_on: bool = True) -> None:
        inst_dir = self._instance_dir(instance.uuid)
        resize_dir = self._resize_dir(instance.uuid)
        if not resize_dir.is_dir():
            if self.host.find(instance.uuid) is not None and inst_dir.is_dir():
                if power_on:  # redelivered task: already reverted
                    self.power_on(instance.uuid)
                return
            raise exceptions.MigrationFailed(
                instance_uuid=instance.uuid, reason="there is no source copy to revert to"
            )
        # On a same-host resize the destination's guest and files are these; the caller
        # destroyed them already, but a crash may have left some.
        self._remove_instance(instance.uuid)
        _rmtree(resize_dir / OUTBOX)
        os.rename(resize_dir, inst_dir)
        try:
            if instance.config_drive and not (inst_dir / CONFIG_DRIVE).is_file():
                build_config_drive(inst_dir / CONFIG_DRIVE, instance, instance.network_info)
            config = self._guest_config(instance, instance.network_info, instance.block_devices)
            guest = self.host.define(config.to_xml())
            if power_on:
                self._start(guest)
        except exceptions.VirtError as exc:
            raise exceptions.MigrationFailed(instance_uuid=instance.uuid, reason=str(exc)) from exc
        logger.info("[instance %s] resize reverted", instance.uuid)

    # --- consoles -------------------------------------------------------------------------------

    def get_console_output(self, instance_uuid: str, max_lines: int | None = None) -> str:
        instance_uuid = self._uuid(instance_uuid)
        inst_dir = self._instance_dir(instance_uuid)
        if not inst_dir.is_dir() and self.host.find(instance_uuid) is None:
            raise exceptions.InstanceNotFound(instance_uuid=instance_uuid)
        log = inst_dir / CONSOLE_LOG
        self._trim_console_log(log)
        try:
            with log.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - self.config.console_log_max_bytes))
                data = f.read()
        except FileNotFoundError:
            return ""
        # NULs appear when the log was trimmed while QEMU wrote: noise for readers.
        text = data.decode("utf-8", errors="replace").replace("\x00", "")
        if max_lines is None:
            return text
        if max_lines <= 0:
            return ""
        return "".join(text.splitlines(keepends=True)[-max_lines:])

    def get_vnc_console(self, instance_uuid: str) -> ConsoleEndpoint:
        guest = self._lookup(instance_uuid)
        if not guest.is_active():
            raise exceptions.ConsoleNotAvailable(
                instance_uuid=guest.uuid, console_type="VNC", reason="it is not running"
            )
        port = guest.vnc_port()
        if port is None:
            raise exceptions.ConsoleNotAvailable(
                instance_uuid=guest.uuid,
                console_type="VNC",
                reason="the hypervisor reports no VNC port",
            )
        return ConsoleEndpoint(self.config.vnc_listen, port)

    # --- housekeeping ---------------------------------------------------------------------------

    def manage_image_cache(self, *, min_unused_age: float) -> list[Path]:
        in_use: set[Path] = set()
        root = Path(self.config.instances_path)
        for disk in root.glob(f"*/{DISK}"):
            with contextlib.suppress(exceptions.VirtError):
                backing = qemuimg.backing_file(disk)
                if backing is not None:
                    in_use.add(backing)
        return self.image_cache.cleanup(in_use, min_unused_age=min_unused_age)

    def trim_console_logs(self) -> None:
        """Cap every guest's console log here (also done before each start and read)."""
        for log in Path(self.config.instances_path).glob(f"*/{CONSOLE_LOG}"):
            self._trim_console_log(log)

    # --- internals: lookup and state ------------------------------------------------------------

    @staticmethod
    def _uuid(value: str) -> str:
        """The canonical form of an instance uuid; anything else cannot be an instance."""
        try:
            return str(uuid_lib.UUID(str(value)))
        except ValueError:
            raise exceptions.InstanceNotFound(instance_uuid=value) from None

    def _lookup(self, instance_uuid: str) -> Guest:
        return self.host.lookup(self._uuid(instance_uuid))

    def _guests(self) -> list[Guest]:
        return [g for g in self.host.list_guests() if g.name == DOMAIN_PREFIX + g.uuid]

    @staticmethod
    def _quietly(fn: Any, default: Any) -> Any:
        """fn() or ``default`` if the domain vanished meanwhile."""
        try:
            return fn()
        except exceptions.InstanceNotFound:
            return default

    @staticmethod
    def _require(guest: Guest, action: str, *allowed: PowerState) -> PowerState:
        state = guest.power_state()
        if state not in allowed:
            raise exceptions.InvalidDriverState(
                action=action, instance_uuid=guest.uuid, state=state.name.lower()
            )
        return state

    def _start(self, guest: Guest) -> None:
        self._trim_console_log(self._instance_dir(guest.uuid) / CONSOLE_LOG)
        guest.start()

    def _clean_shutdown(self, guest: Guest, timeout: float) -> bool:
        """ACPI shutdown, repeated every SHUTDOWN_RETRY_INTERVAL_S; True if the guest stopped
        within ``timeout`` seconds."""
        if timeout <= 0:
            return False
        deadline = time.monotonic() + timeout
        next_press = 0.0
        while True:
            now = time.monotonic()
            if not guest.is_active():
                return True
            if now >= deadline:
                return False
            if now >= next_press:
                try:
                    guest.shutdown()
                except exceptions.InvalidDriverState:
                    return not guest.is_active()
                next_press = now + SHUTDOWN_RETRY_INTERVAL_S
            time.sleep(_POLL_S)  # poll interval while the guest OS shuts down

    def _on_lifecycle(self, instance_uuid: str, name: str, event: int, detail: int) -> None:
        listener = self._listener
        if listener is None or name != DOMAIN_PREFIX + instance_uuid:
            return
        mapped = _LIFECYCLE.get(event)
        if mapped is None:
            return
        transition, state = mapped
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            if detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED:
                transition, state = "suspended", PowerState.SUSPENDED
            elif detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED:
                transition = "crashed"
        listener(InstanceEvent(uuid=instance_uuid, transition=transition, power_state=state))

    # --- internals: files and disks -------------------------------------------------------------

    def _instance_dir(self, instance_uuid: str) -> Path:
        return Path(self.config.instances_path) / self._uuid(instance_uuid)

    def _resize_dir(self, instance_uuid: str) -> Path:
        return Path(self.config.instances_path) / (self._uuid(instance_uuid) + RESIZE_SUFFIX)

    @staticmethod
    def _make_instance_dir(inst_dir: Path) -> None:
        if inst_dir.exists():
            # No domain owns it (callers checked): the remains of an interrupted attempt.
            logger.warning("removing leftover instance directory %s", inst_dir)
            _rmtree(inst_dir)
        inst_dir.mkdir(mode=0o755, parents=True)
        inst_dir.chmod(0o755)  # QEMU must traverse it; mkdir's mode is umask-filtered

    def _remove_instance(self, instance_uuid: str) -> None:
        """Best-effort removal of a guest and its directory (after a failure); a resize's
        source copy stays, so that the resize can still be reverted."""
        try:
            self._destroy_guest(self._uuid(instance_uuid), delete_files=True)
        except Exception:
            logger.exception("[instance %s] cleanup failed", instance_uuid)

    def _create_root_disk(self, instance: InstanceSpec, base: Path, dest: Path) -> None:
        image_size = self.image_cache.virtual_size(base)
        size = instance.root_gb * GiB
        if size and size < image_size:
            raise exceptions.FlavorDiskSmallerThanImage(flavor_size=size, image_size=image_size)
        qemuimg.create(dest, size_bytes=max(size, image_size), backing=base)

    @staticmethod
    def _create_extra_disks(instance: InstanceSpec, inst_dir: Path) -> None:
        # Left blank: the guest formats them (cloud-init does), nothing here can mkfs a qcow2.
        if instance.ephemeral_gb:
            qemuimg.create(inst_dir / EPHEMERAL, size_bytes=instance.ephemeral_gb * GiB)
        if instance.swap_mb:
            qemuimg.create(inst_dir / SWAP, size_bytes=instance.swap_mb * MiB)

    @staticmethod
    def _grow(instance: InstanceSpec, disk: Path, size: int) -> None:
        current = qemuimg.virtual_size(disk)
        if size and size < current:
            raise exceptions.MigrationFailed(
                instance_uuid=instance.uuid,
                reason=f"{disk.name} is {current} bytes; shrinking it to {size} is not supported",
            )
        if size > current:
            qemuimg.resize(disk, size)

    @staticmethod
    def _root_target(guest: Guest, disk: Path) -> str:
        for guest_disk in guest.config().disks:
            if guest_disk.source_path == str(disk):
                return guest_disk.target_dev
        raise exceptions.SnapshotFailed(
            instance_uuid=guest.uuid, reason=f"no device of the domain uses {disk}"
        )

    def _fetch_migration_disks(
        self,
        instance_uuid: str,
        source: str | Path | ImageSource,
        dest: Path,
        *,
        root_required: bool = True,
    ) -> None:
        """Bring the migrated disks into ``dest`` as DISK (and EPHEMERAL) and check them:
        see `finish_migration` for the accepted sources. Without `root_required` (the guest
        boots from a volume) the source may send no root disk."""
        source_text = str(source.url if isinstance(source, ImageSource) else source)
        transfer = dest / "transfer"
        try:
            if isinstance(source, ImageSource):
                # A transfer image of the image service: verified by its checksums.
                fetch_verified(
                    source,
                    transfer,
                    control_plane=self.control_plane,
                    timeout=self.image_cache.download_timeout,
                )
            elif source_text.startswith(("http://", "https://")):
                download(source_text, transfer, control_plane=self.control_plane, timeout=60)
            elif Path(source).is_dir():
                manifest = json.loads((Path(source) / MANIFEST).read_text())
                for name in self._expected_files(
                    instance_uuid, manifest, source_text, root_required=root_required
                ):
                    shutil.copyfile(Path(source) / name, dest / name)
                self._check_files(instance_uuid, manifest, dest)
            else:
                shutil.copyfile(source, transfer)
            if transfer.is_file():
                if tarfile.is_tarfile(transfer):
                    self._unpack_transfer(
                        instance_uuid, transfer, dest, source_text, root_required=root_required
                    )
                else:
                    transfer.rename(dest / DISK)
        except (OSError, urllib.error.URLError, ValueError, KeyError, tarfile.TarError) as exc:
            raise exceptions.MigrationFailed(
                instance_uuid=instance_uuid,
                reason=f"fetching disks from {redact_url(source_text)} failed: {exc}",
            ) from exc
        for name in MIGRATED_DISKS:
            if (dest / name).is_file():
                check_format(dest / name, expected="qcow2", image_id=f"{instance_uuid}/{name}")

    def _unpack_transfer(
        self,
        instance_uuid: str,
        tar_path: Path,
        dest: Path,
        what: str,
        *,
        root_required: bool = True,
    ) -> None:
        """Extract the manifest's regular files by name only (no paths, links or devices
        from the archive reach the filesystem) and check them against the manifest."""
        with tarfile.open(tar_path) as tar:
            members = {m.name: m for m in tar.getmembers() if m.isreg()}
            manifest_file = tar.extractfile(members[MANIFEST])
            if manifest_file is None:
                raise KeyError(MANIFEST)
            manifest = json.load(manifest_file)
            for name in self._expected_files(
                instance_uuid, manifest, what, root_required=root_required
            ):
                data = tar.extractfile(members[name])
                if data is None:
                    raise KeyError(name)
                with data, (dest / name).open("wb") as out:
                    shutil.copyfileobj(data, out, _CHUNK)
        tar_path.unlink()
        self._check_files(instance_uuid, manifest, dest)

    @staticmethod
    def _expected_files(
        instance_uuid: str, manifest: dict[str, Any], what: str, *, root_required: bool = True
    ) -> list[str]:
        if manifest.get("instance_uuid") != instance_uuid:
            raise exceptions.MigrationFailed(
                instance_uuid=instance_uuid,
                reason=f"{redact_url(what)} holds another instance's disks",
            )
        names = [name for name in manifest["files"] if name in MIGRATED_DISKS]
        if DISK not in names and root_required:
            raise exceptions.MigrationFailed(
                instance_uuid=instance_uuid, reason="the source sent no root disk"
            )
        return names

    @staticmethod
    def _check_files(instance_uuid: str, manifest: dict[str, Any], dest: Path) -> None:
        for name, expected in manifest["files"].items():
            if name not in MIGRATED_DISKS:
                continue
            got = _file_digest(dest / name)
            if got != {"size": expected["size"], "sha256": expected["sha256"]}:
                raise exceptions.MigrationFailed(
                    instance_uuid=instance_uuid,
                    reason=f"{name} arrived damaged: {got}, expected {expected}",
                )

    def _trim_console_log(self, log: Path) -> None:
        """Keep the newest half of a log past console_log_max_bytes, cut at a line start.

        QEMU writes with O_APPEND (append='on'), so after the rewrite its next line lands at
        the new end; at worst a line written during the rewrite is lost.
        """
        limit = self.config.console_log_max_bytes
        try:
            if log.stat().st_size <= limit:
                return
            with log.open("r+b") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(size - limit // 2)
                tail = f.read()
                newline = tail.find(b"\n")
                if 0 <= newline < len(tail) - 1:
                    tail = tail[newline + 1 :]
                f.seek(0)
                f.write(tail)
                f.truncate(len(tail))
        except FileNotFoundError:
            return

    # --- internals: domain XML ------------------------------------------------------------------

    def _guest_config(
        self, instance: InstanceSpec, vifs: list[VifSpec], volumes: list[BlockDeviceSpec]
    ) -> GuestConfig:
        """Decide the domain's devices from the instance, its image properties and our
        configuration; config.py only renders the result."""
        inst_dir = self._instance_dir(instance.uuid)
        disk_bus = _choice(instance, "hw_disk_bus", "virtio", DISK_BUS_PREFIX)
        cdrom_bus = _choice(instance, "hw_cdrom_bus", "ide", CDROM_BUSES)
        vif_model = _choice(instance, "hw_vif_model", "virtio", VIF_MODELS)
        video_model = instance.image_property("hw_video_model")
        if video_model is not None:
            _choice(instance, "hw_video_model", "", VIDEO_MODELS)
        machine_type = instance.image_property("hw_machine_type", "pc") or "pc"
        if not _MACHINE_TYPE.match(machine_type):
            raise exceptions.UnsupportedHardware(
                prop="hw_machine_type", value=machine_type, allowed="a QEMU machine type name"
            )
        names = _DeviceNames()
        cdrom_dev = None
        if instance.config_drive:
            # hdc: the IDE secondary master, where guests without AHCI find a CD-ROM.
            cdrom_dev = names.take("hdc") if cdrom_bus == "ide" else names.next(cdrom_bus)
        boot_volume = next((v for v in volumes if v.is_root), None)
        others = [v for v in volumes if v is not boot_volume]
        # The root disk comes first (the one booted from): vda, or the boot volume's bus's
        # first name. Names other volumes ask for are theirs before the rest are handed out.
        if boot_volume is not None:
            bus = boot_volume.disk_bus if boot_volume.disk_bus in DISK_BUS_PREFIX else disk_bus
            root = _volume_guest_disk(boot_volume, names.next(bus), bus)
        else:
            root = GuestDisk(
                source_path=str(inst_dir / DISK),
                target_dev=names.next(disk_bus),
                target_bus=disk_bus,
            )
        named = [
            (v, names.take(v.device_name.removeprefix("/dev/"))) for v in others if v.device_name
        ]
        disks = [root]
        for filename, present in ((EPHEMERAL, instance.ephemeral_gb), (SWAP, instance.swap_mb)):
            if present:
                disks.append(
                    GuestDisk(
                        source_path=str(inst_dir / filename),
                        target_dev=names.next(disk_bus),
                        target_bus=disk_bus,
                    )
                )
        for volume, dev in named:
            bus = volume.disk_bus if volume.disk_bus in DISK_BUS_PREFIX else disk_bus
            disks.append(_volume_guest_disk(volume, dev, bus))
        for volume in (v for v in others if not v.device_name):
            bus = volume.disk_bus if volume.disk_bus in DISK_BUS_PREFIX else disk_bus
            disks.append(_volume_guest_disk(volume, names.next(bus), bus))
        if cdrom_dev is not None:
            disks.append(
                GuestDisk(
                    source_path=str(inst_dir / CONFIG_DRIVE),
                    target_dev=cdrom_dev,
                    target_bus=cdrom_bus,
                    device="cdrom",
                    driver_format="raw",
                    read_only=True,
                )
            )
        interfaces = [
            GuestInterface(
                mac=vif.mac,
                bridge=vif.bridge,
                model=vif.model or vif_model,
                mtu=vif.mtu,
                target_dev=tap_name(vif.id),
            )
            for vif in vifs
        ]
        return GuestConfig(
            name=DOMAIN_PREFIX + instance.uuid,
            uuid=instance.uuid,
            virt_type=self.config.virt_type,
            memory_mb=instance.memory_mb,
            vcpus=instance.vcpus,
            machine_type=machine_type,
            disks=disks,
            interfaces=interfaces,
            serial=GuestSerial(log_path=str(inst_dir / CONSOLE_LOG), append=True),
            graphics=GuestGraphics(listen=self.config.vnc_listen),
            video_model=video_model,
            metadata=GuestMetadata(
                instance_name=instance.name,
                flavor_name=instance.flavor_name,
                memory_mb=instance.memory_mb,
                vcpus=instance.vcpus,
                root_gb=instance.root_gb,
                ephemeral_gb=instance.ephemeral_gb,
                swap_mb=instance.swap_mb,
                project_id=instance.project_id,
                user_id=instance.user_id,
                image_id=instance.image_id or "",
            ),
        )


# Errors spawn lets through as they are: they already say precisely what went wrong.
_SPAWN_ERRORS_KEPT = (
    exceptions.ImageDownloadFailed,
    exceptions.ImageChecksumMismatch,
    exceptions.ImageUnacceptable,
    exceptions.FlavorDiskSmallerThanImage,
    exceptions.UnsupportedHardware,
    exceptions.InstanceExists,
    exceptions.HypervisorUnavailable,
)

#: libvirt lifecycle event → (transition, power state afterwards); STOPPED is refined by
#: its detail in `_on_lifecycle`.
_LIFECYCLE: dict[int, tuple[str, PowerState]] = {
    libvirt.VIR_DOMAIN_EVENT_STARTED: ("started", PowerState.RUNNING),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: ("resumed", PowerState.RUNNING),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: ("paused", PowerState.PAUSED),
    libvirt.VIR_DOMAIN_EVENT_STOPPED: ("stopped", PowerState.SHUTDOWN),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: ("crashed", PowerState.CRASHED),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: ("suspended", PowerState.SUSPENDED),
}


def _volume_guest_disk(volume: BlockDeviceSpec, device: str, bus: str) -> GuestDisk:
    """The <disk> of a volume: its serial is the volume id (as the guest keeps it)."""
    return GuestDisk(
        source_path=volume.path,
        source_type="block" if volume.source_type == "block" else "file",
        target_dev=device,
        target_bus=bus,
        driver_format=volume.disk_format,
        read_only=volume.read_only,
        serial=volume.serial,
    )


def _volume_disk(
    disks: list[GuestDisk], volume_id: str, device_name: str | None = None
) -> GuestDisk | None:
    """The domain's disk of the volume: by its serial, else (a disk without one, or of this
    volume) by its device name."""
    serial = volume_id[:20]
    for disk in disks:
        if disk.device == "disk" and disk.serial == serial:
            return disk
    if device_name:
        for disk in disks:
            if disk.device == "disk" and disk.target_dev == device_name and not disk.serial:
                return disk
    return None


class _DeviceNames:
    """Hands out guest device names (vda, vdb, hdc...) without duplicates."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def reserve(self, name: str) -> None:
        """A name already in use (by a disk the domain has)."""
        self._used.add(name)

    def is_free(self, name: str) -> bool:
        return name not in self._used and bool(_DEVICE_NAME.match(name))

    def take(self, name: str) -> str:
        if name in self._used or not _DEVICE_NAME.match(name):
            raise exceptions.UnsupportedHardware(
                prop="device_name", value=name, allowed="a free name such as vdb"
            )
        self._used.add(name)
        return name

    def next(self, bus: str) -> str:
        prefix = DISK_BUS_PREFIX[bus]
        for letter in string.ascii_lowercase:
            if prefix + letter not in self._used:
                return self.take(prefix + letter)
        raise exceptions.UnsupportedHardware(
            prop="disk count", value=">26", allowed="at most 26 disks per bus"
        )


def _choice(
    instance: InstanceSpec, prop: str, default: str, allowed: frozenset[str] | dict[str, str]
) -> str:
    value = instance.image_property(prop, default) or default
    if value not in allowed:
        raise exceptions.UnsupportedHardware(
            prop=prop, value=value, allowed=", ".join(sorted(allowed))
        )
    return value


def _rmtree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def _hash_file(path: Path, *algorithms: str) -> tuple[int, dict[str, str]]:
    hashers = {a: hashlib.new(a, usedforsecurity=False) for a in algorithms}
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
    return size, {a: h.hexdigest() for a, h in hashers.items()}


def _file_digest(path: Path) -> dict[str, Any]:
    size, digests = _hash_file(path, "sha256")
    return {"size": size, "sha256": digests["sha256"]}


def _snapshot_info(written: Path, final: Path) -> SnapshotInfo:
    """Measure the snapshot file ``written`` that will be renamed to ``final``."""
    size, digests = _hash_file(written, "md5", "sha512")
    return SnapshotInfo(
        path=final,
        size=size,
        virtual_size=qemuimg.virtual_size(written),
        checksum=digests["md5"],
        os_hash_algo="sha512",
        os_hash_value=digests["sha512"],
    )

"""One libvirt domain: start, shut down, destroy, undefine, state, VNC port, live disk copy.

Every method turns ``libvirt.libvirtError`` into a ``workers.virt.exceptions`` class (see
`translate_errors`), so nothing libvirt-specific escapes this package. Methods do one
libvirt thing each; sequencing (soft then hard, saving the console log, ...) is driver.py's.
"""

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import libvirt

from workers.virt import exceptions
from workers.virt.driver import PowerState
from workers.virt.libvirt.config import GuestConfig

logger = logging.getLogger(__name__)

#: libvirt domain states → Nova power states (nova/virt/libvirt/guest.py's table, ours).
LIBVIRT_POWER_STATE: dict[int, PowerState] = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    # "blocked" is a running guest waiting on a resource.
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    # "shutdown" means "being shut down": the guest is on its way off.
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}

#: Error codes meaning "the daemon or the connection is gone", not "the domain is wrong".
CONNECTION_ERRORS = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INVALID_CONN,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_AUTH_FAILED,
    }
)

_POLL_S = 0.1


@contextlib.contextmanager
def translate_errors(instance_uuid: str, action: str) -> Iterator[None]:
    """Re-raise libvirt errors met while doing ``action`` as our exceptions."""
    try:
        yield
    except libvirt.libvirtError as exc:
        code = exc.get_error_code()
        if code == libvirt.VIR_ERR_NO_DOMAIN:
            raise exceptions.InstanceNotFound(instance_uuid=instance_uuid) from exc
        if code == libvirt.VIR_ERR_OPERATION_INVALID:
            raise exceptions.InvalidDriverState(
                f"Cannot {action} instance {instance_uuid}: {exc.get_error_message()}"
            ) from exc
        if code in CONNECTION_ERRORS:
            raise exceptions.HypervisorUnavailable(uri="libvirt", reason=str(exc)) from exc
        raise exceptions.InstanceOperationFailed(
            action=action.capitalize(), instance_uuid=instance_uuid, reason=str(exc)
        ) from exc


class Guest:
    """A handle on one domain (cheap to create; holds no state of its own)."""

    def __init__(self, domain: libvirt.virDomain) -> None:
        self._domain = domain
        # Both are cached by libvirt-python on the handle: no round trip.
        self.uuid: str = domain.UUIDString()
        self.name: str = domain.name()

    def __repr__(self) -> str:
        return f"<Guest {self.name}>"

    # --- state ----------------------------------------------------------------------------------

    def state(self) -> int:
        with translate_errors(self.uuid, "read the state of"):
            state: int = self._domain.state()[0]
        return state

    def is_active(self) -> bool:
        with translate_errors(self.uuid, "read the state of"):
            return bool(self._domain.isActive())

    def has_managed_save(self) -> bool:
        with translate_errors(self.uuid, "read the saved state of"):
            return bool(self._domain.hasManagedSaveImage(0))

    def power_state(self) -> PowerState:
        """Nova's power state; a shut-off domain with a managed save image is SUSPENDED."""
        state = LIBVIRT_POWER_STATE.get(self.state(), PowerState.NOSTATE)
        if state == PowerState.SHUTDOWN and self.has_managed_save():
            return PowerState.SUSPENDED
        return state

    def vcpus(self) -> int:
        with translate_errors(self.uuid, "read the vCPUs of"):
            return int(self._domain.info()[3])

    # --- power ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the domain (restoring its managed save image if it has one)."""
        with translate_errors(self.uuid, "start"):
            self._domain.create()

    def shutdown(self) -> None:
        """Ask the guest OS to power off (ACPI power button); returns at once."""
        with translate_errors(self.uuid, "shut down"):
            self._domain.shutdown()

    def destroy(self) -> None:
        """Pull the plug. A domain that is not running is left as it is."""
        try:
            with translate_errors(self.uuid, "destroy"):
                self._domain.destroy()
        except exceptions.InvalidDriverState:
            if self.is_active():
                raise

    def pause(self) -> None:
        with translate_errors(self.uuid, "pause"):
            self._domain.suspend()

    def resume(self) -> None:
        with translate_errors(self.uuid, "unpause"):
            self._domain.resume()

    def managed_save(self) -> None:
        """Save memory to libvirt's managed save file and stop; `start` restores it."""
        with translate_errors(self.uuid, "suspend"):
            self._domain.managedSave(0)

    def remove_managed_save(self) -> None:
        with translate_errors(self.uuid, "discard the saved state of"):
            self._domain.managedSaveRemove(0)

    def undefine(self) -> None:
        """Forget the domain (and its managed save image and snapshot metadata)."""
        flags = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        flags |= libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        with translate_errors(self.uuid, "undefine"):
            self._domain.undefineFlags(flags)

    # --- description ----------------------------------------------------------------------------

    def xml(self, *, inactive: bool = False) -> str:
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        with translate_errors(self.uuid, "read the XML of"):
            xml: str = self._domain.XMLDesc(flags)
        return xml

    def config(self, *, inactive: bool = False) -> GuestConfig:
        return GuestConfig.from_xml(self.xml(inactive=inactive))

    def vnc_port(self) -> int | None:
        """The VNC port of the running domain, or None (not running, no VNC, test driver)."""
        graphics = self.config().graphics
        if graphics is None or graphics.type != "vnc":
            return None
        return graphics.port

    # --- devices --------------------------------------------------------------------------------

    def attach_device(self, xml: str) -> None:
        """Plug a device into the running guest and keep it in the persistent definition,
        so a reboot or a host restart brings it back."""
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if self.is_active():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        with translate_errors(self.uuid, "attach a device to"):
            self._domain.attachDeviceFlags(xml, flags)

    def detach_device(self, xml: str, *, live_only: bool = False) -> None:
        """Unplug a device from the running guest and (unless ``live_only``: asking again)
        from the persistent definition. Live, the guest is asked to release it: the caller
        checks it is gone (`config`), since a guest that is not up yet acknowledges and keeps
        the device."""
        active = self.is_active()
        flags = 0 if live_only and active else libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if active:
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        with translate_errors(self.uuid, "detach a device from"):
            self._domain.detachDeviceFlags(xml, flags)

    def detach_device_from(self, xml: str, *, live: bool, persistent: bool) -> None:
        """Unplug a device from the running guest (`live`: the guest is asked to release
        it, the caller checks it did) and/or from the persistent definition."""
        flags = 0
        if live:
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        if persistent:
            flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
        with translate_errors(self.uuid, "detach a device from"):
            self._domain.detachDeviceFlags(xml, flags)

    # --- disks ----------------------------------------------------------------------------------
    def block_resize(self, target_dev: str, size_bytes: int) -> None:
        """Tell the running guest its disk is now `size_bytes` (QEMU grows a qcow2 itself)."""
        with translate_errors(self.uuid, "resize a disk of"):
            self._domain.blockResize(target_dev, size_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)

    def copy_disk(self, target_dev: str, dest: Path, *, timeout: float) -> bool:
        """Copy the running domain's disk ``target_dev`` to a new standalone qcow2 ``dest``,
        consistent as of the moment the copy ends (what a power cut would leave on disk).

        Uses a block copy job (QEMU drive-mirror of the whole backing chain): once the
        mirror is in sync, aborting the job without pivoting leaves ``dest`` as a point-in-
        time copy and the guest on its own disk. The job is marked transient, which libvirt
        requires for persistent domains. Returns False when the hypervisor cannot copy a
        live disk (the test driver), so the caller can fall back to a cold copy.
        """
        disk = ET.Element("disk", type="file")
        ET.SubElement(disk, "source", file=str(dest))
        ET.SubElement(disk, "driver", type="qcow2")
        dest_xml = ET.tostring(disk, encoding="unicode")
        flags = libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB
        with translate_errors(self.uuid, "copy the disk of"):
            try:
                self._domain.blockCopy(target_dev, dest_xml, None, flags)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                    return False
                raise
        try:
            self._wait_for_mirror_ready(target_dev, timeout)
        finally:
            # Synchronous without flags: on return QEMU has finished the job and dest is
            # complete (if ready) and no longer written to.
            with translate_errors(self.uuid, "end the disk copy of"):
                self._domain.blockJobAbort(target_dev, 0)
        return True

    def _wait_for_mirror_ready(self, target_dev: str, timeout: float) -> None:
        """Poll the live XML until libvirt marks the copy's <mirror> ready (in sync)."""
        deadline = time.monotonic() + timeout
        while True:
            root = ET.fromstring(self.xml())  # noqa: S314 -- libvirt's own output
            for disk in root.iterfind("./devices/disk"):
                target = disk.find("target")
                mirror = disk.find("mirror")
                if target is None or target.get("dev") != target_dev or mirror is None:
                    continue
                if mirror.get("ready") == "yes":
                    return
                if mirror.get("ready") == "abort":
                    raise exceptions.InstanceOperationFailed(
                        action="Disk copy",
                        instance_uuid=self.uuid,
                        reason="the block copy job was aborted",
                    )
            if time.monotonic() >= deadline:
                raise exceptions.InstanceOperationFailed(
                    action="Disk copy",
                    instance_uuid=self.uuid,
                    reason=f"the copy was not in sync after {timeout:.0f} s",
                )
            time.sleep(_POLL_S)  # poll interval while QEMU copies

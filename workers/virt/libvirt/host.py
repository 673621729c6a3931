"""The connection to one libvirt daemon: open, reconnect, lifecycle events, host facts.

One `Host` per driver. The connection is opened lazily and re-opened when it is found dead
(libvirtd restarted, socket closed), so a long-running worker survives a daemon restart; a
call that was in flight when the daemon went away fails with HypervisorUnavailable and the
next call reconnects. Lifecycle events need libvirt's default event loop, registered once
per process before the first connection is opened and run on a daemon thread.

Knows nothing about instances beyond looking domains up; decisions live in driver.py.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

import libvirt

from workers.virt import exceptions
from workers.virt.libvirt.guest import CONNECTION_ERRORS, Guest

logger = logging.getLogger(__name__)

#: (uuid, domain name, libvirt event, libvirt detail), called on the event thread.
LifecycleCallback = Callable[[str, str, int, int], None]

_event_loop_lock = threading.Lock()
_event_loop_started = False


def start_event_loop() -> None:
    """Register libvirt's default event implementation and run it on a daemon thread, once
    per process. Connections opened before this call never deliver events."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        # libvirt prints every error to stderr by default; ours are raised and logged.
        libvirt.registerErrorHandler(_ignore_libvirt_error, None)
        thread = threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True)
        thread.start()
        _event_loop_started = True


def _ignore_libvirt_error(_ctx: object, _error: object) -> None:
    return


def _run_event_loop() -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:  # the loop must outlive any one bad callback
            logger.exception("libvirt event loop iteration failed")


class Host:
    """A lazily opened, self-healing connection to the libvirt daemon at ``uri``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: libvirt.virConnect | None = None
        self._closed_by_daemon = False
        self._lock = threading.Lock()
        self._lifecycle_callback: LifecycleCallback | None = None

    # --- connection -----------------------------------------------------------------------------

    def get_connection(self) -> libvirt.virConnect:
        """The open connection, re-opened first if it died."""
        with self._lock:
            if self._conn is not None and not self._closed_by_daemon and self._alive(self._conn):
                return self._conn
            if self._conn is not None:
                logger.warning("connection to %s was lost; reconnecting", self.uri)
                self._conn = None
            self._conn = self._open()
            return self._conn

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except libvirt.libvirtError:
                logger.debug("closing the connection to %s failed", self.uri, exc_info=True)

    def set_lifecycle_callback(self, callback: LifecycleCallback | None) -> None:
        """Route domain lifecycle events to ``callback`` (None: drop them)."""
        self._lifecycle_callback = callback
        self.get_connection()  # events flow only on an open connection

    def _open(self) -> libvirt.virConnect:
        start_event_loop()
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise exceptions.HypervisorUnavailable(uri=self.uri, reason=str(exc)) from exc
        self._closed_by_daemon = False
        # Keepalives let a dead daemon be noticed without waiting for a call to time out;
        # the test driver and local drivers support neither them nor close callbacks.
        try:
            conn.setKeepAlive(5, 3)
            conn.registerCloseCallback(self._on_close, None)
        except libvirt.libvirtError:
            logger.debug("%s does not support keepalive/close callbacks", self.uri)
        conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )
        logger.info("connected to %s", self.uri)
        return conn

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return bool(conn.isAlive())
        except libvirt.libvirtError:
            return False

    def _on_close(self, conn: libvirt.virConnect, reason: int, opaque: object) -> None:
        # Runs on the event thread: only flag it, the next get_connection() reconnects.
        self._closed_by_daemon = True
        logger.warning("libvirt closed the connection to %s (reason %d)", self.uri, reason)

    def _on_lifecycle(
        self, conn: libvirt.virConnect, dom: libvirt.virDomain, event: int, detail: int, _: Any
    ) -> None:
        callback = self._lifecycle_callback
        if callback is None:
            return
        try:
            callback(dom.UUIDString(), dom.name(), event, detail)
        except Exception:
            logger.exception("lifecycle event handler failed for %s", dom.name())

    def _call(self, what: str, fn: Callable[[libvirt.virConnect], Any]) -> Any:
        try:
            return fn(self.get_connection())
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in CONNECTION_ERRORS:
                raise exceptions.HypervisorUnavailable(uri=self.uri, reason=str(exc)) from exc
            raise exceptions.VirtError(f"{what} on {self.uri} failed: {exc}") from exc

    # --- domains --------------------------------------------------------------------------------

    def find(self, instance_uuid: str) -> Guest | None:
        """The domain with this uuid, or None."""
        try:
            return Guest(self.get_connection().lookupByUUIDString(instance_uuid))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            if exc.get_error_code() in CONNECTION_ERRORS:
                raise exceptions.HypervisorUnavailable(uri=self.uri, reason=str(exc)) from exc
            raise exceptions.VirtError(f"looking up {instance_uuid} failed: {exc}") from exc

    def lookup(self, instance_uuid: str) -> Guest:
        guest = self.find(instance_uuid)
        if guest is None:
            raise exceptions.InstanceNotFound(instance_uuid=instance_uuid)
        return guest

    def list_guests(self) -> list[Guest]:
        domains = self._call("listing domains", lambda conn: conn.listAllDomains(0))
        return [Guest(dom) for dom in domains]

    def define(self, xml: str) -> Guest:
        """Define (or redefine, for the same uuid) a persistent domain."""
        return Guest(self._call("defining a domain", lambda conn: conn.defineXML(xml)))

    # --- facts ----------------------------------------------------------------------------------

    def get_info(self) -> list[Any]:
        """virNodeGetInfo: [arch, memory MiB, cpus, MHz, NUMA nodes, sockets, cores, threads]."""
        info: list[Any] = self._call("reading node info", lambda conn: conn.getInfo())
        return info

    def get_free_memory(self) -> int:
        """Free host memory in bytes."""
        return int(self._call("reading free memory", lambda conn: conn.getFreeMemory()))

    def get_hostname(self) -> str:
        return str(self._call("reading the hostname", lambda conn: conn.getHostname()))

    def get_type(self) -> str:
        """The hypervisor's name: "QEMU" (or "TEST" for test:///default)."""
        return str(self._call("reading the hypervisor type", lambda conn: conn.getType()))

    def get_version(self) -> int:
        """The hypervisor's version, major * 1_000_000 + minor * 1000 + micro."""
        return int(self._call("reading the hypervisor version", lambda conn: conn.getVersion()))

    def get_capabilities(self) -> ET.Element:
        xml = self._call("reading capabilities", lambda conn: conn.getCapabilities())
        return ET.fromstring(xml)  # noqa: S314 -- libvirt's own output

    def supports_domain_type(self, virt_type: str) -> bool:
        """Whether the hypervisor offers guests of ``virt_type`` (kvm, qemu) at all."""
        caps = self.get_capabilities()
        return caps.find(f"./guest/arch/domain[@type='{virt_type}']") is not None

    def get_cpu_info(self) -> dict[str, Any]:
        """The host CPU as Nova reports it: arch, model, vendor, topology, features."""
        cpu = self.get_capabilities().find("./host/cpu")
        if cpu is None:
            return {}
        topology = cpu.find("topology")
        return {
            "arch": cpu.findtext("arch", ""),
            "model": cpu.findtext("model", ""),
            "vendor": cpu.findtext("vendor", ""),
            "topology": {
                key: int(topology.get(key, "0")) if topology is not None else 0
                for key in ("sockets", "cores", "threads")
            },
            "features": sorted(f.get("name", "") for f in cpu.iterfind("feature") if f.get("name")),
        }

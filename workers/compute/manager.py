"""One operation on this host's guests: call the driver, report the outcome to the conductor.

The manager never writes instance state: it tells the conductor what happened (the messages
of `computecloud.messages.from_compute`: build_server_done, server_action_done, ...) and the
conductor writes it. Every operation reports exactly once, success or failure with a fault, so an
instance's task state is always finished or reverted (Nova's reverts_task_state and
wrap_instance_fault, as one mechanism: `ComputeManager._report_outcome`).
Operations are idempotent: a task redelivered after a worker died finds its work done or
redoes it from a clean state.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from celery import Celery

from computecloud import request_ids
from computecloud.identifiers import compute_node_uuid
from computecloud.messages import from_compute, to_compute
from computecloud.messages.from_compute import Console, Fault
from computecloud.queues import describe_task
from computecloud.wire import (
    BuildPayload,
    HostNetworksPayload,
    ImagePayload,
    NetworkPayload,
    PortPayload,
    StoragePoolPayload,
    VolumeCreatePayload,
)
from workers import transfer
from workers.compute.config import ComputeConfig
from workers.storage.agent import StorageAgent
from workers.virt.driver import (
    BlockDeviceSpec,
    ComputeDriver,
    ImageSource,
    InstanceSpec,
    VifSpec,
)

logger = logging.getLogger(__name__)

RUNNING = 1  # Nova's power_state.RUNNING
# How long a port this host plugged outlives network states that do not have it yet.
FRESH_PLUG_SECONDS = 120.0

# Simple operations: compute task name → the driver call that performs it.
SIMPLE_OPERATIONS: dict[
    str, Callable[[ComputeDriver, str, to_compute.ServerActionPayload], None]
] = {
    to_compute.REBOOT_SERVER: lambda d, u, p: d.reboot(u, hard=bool(p.get("hard"))),
    to_compute.STOP_SERVER: lambda d, u, p: d.power_off(u),
    to_compute.START_SERVER: lambda d, u, p: d.power_on(u),
    to_compute.PAUSE_SERVER: lambda d, u, p: d.pause(u),
    to_compute.UNPAUSE_SERVER: lambda d, u, p: d.unpause(u),
    to_compute.SUSPEND_SERVER: lambda d, u, p: d.suspend(u),
    to_compute.RESUME_SERVER: lambda d, u, p: d.resume(u),
}


class NetworkAgent(Protocol):
    """What the manager asks of the host's network agent (workers/network/): the kernel side
    of the guests' ports. `apply` makes the host match the whole state; the others are the
    hot path of one port, leaving what `apply` would."""

    def apply(self, state: HostNetworksPayload) -> None: ...

    def plug_port(self, network: NetworkPayload, port: PortPayload) -> None: ...

    def unplug_port(self, port_id: str) -> None: ...


def publish_on(app: Any, task: str, *, kwargs: Mapping[str, Any], queue: str | None = None) -> None:
    """Send a `from_compute` message on `app` as a compute host does (the manager's
    `publish`; bench/heartbeats.py plays many hosts with it)."""
    app.send_task(
        task,
        kwargs=dict(kwargs),
        queue=queue,
        kwargsrepr=describe_task(kwargs),
        headers=request_ids.headers(),  # the request this host is working for, if any
    )


class InstanceLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the instance uuid; the record carries the request id the host
    was sent (the log format writes it, computecloud/request_ids.py), else the context's."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        if extra.get("request_id"):
            kwargs["extra"] = {**kwargs.get("extra", {}), "request_id": extra["request_id"]}
        return f"[instance {extra.get('uuid')}] {msg}", kwargs


def fault_from(exc: BaseException) -> Fault:
    return {
        "message": f"{type(exc).__name__}: {exc}"[:255],
        "details": "".join(traceback.format_exception(exc))[-8000:],
        "code": 500,
    }


class ComputeManager:
    def __init__(
        self,
        config: ComputeConfig,
        driver: ComputeDriver,
        app: Celery,
        network: NetworkAgent,
        storage: StorageAgent | None = None,
    ) -> None:
        self.config = config
        self.driver = driver
        self.app = app
        self.network = network
        # The host's pool of volumes; None (or VOLUME_BACKEND=none): the host keeps none.
        self.storage = storage
        # Network states (their generations): the newest received, the last applied.
        self._sync_lock = threading.Lock()
        self._apply_lock = threading.Lock()
        self._newest_sync = 0.0
        self._applied_sync = 0.0
        # Ports this host plugged lately (a build, an attach), kept through a state that does
        # not have them yet: one read before their allocation committed, delivered after.
        self._fresh_plugs: dict[str, tuple[float, NetworkPayload, PortPayload]] = {}
        self.host = config.host
        # Snapshots and migrated disks go to (and come from) the control plane only.
        self.control_plane = transfer.ControlPlane.from_url(config.control_plane_url)

    # --- talking to the control plane ---------------------------------------------------------
    def publish(self, task: str, *, kwargs: Mapping[str, Any], queue: str | None = None) -> None:
        """The worker's `Send` for `from_compute` messages: at once, since a compute host has no
        database and so no transaction to wait for."""
        publish_on(self.app, task, kwargs=kwargs, queue=queue)

    def _upload(self, url: str, path: Path) -> None:
        transfer.upload(url, path, control_plane=self.control_plane, timeout=TRANSFER_TIMEOUT)

    def _log(self, server_uuid: str, request_id: str | None) -> InstanceLog:
        return InstanceLog(logger, {"uuid": server_uuid, "request_id": request_id})

    # --- host life ------------------------------------------------------------------------------
    def init_host(self) -> None:
        """Start-up: prepare the driver, then tell the conductor what this host has, so it can
        reconcile instances left in a transitional state by a crash."""
        self.driver.init_host()
        interrupted = self._interrupted_builds()
        from_compute.compute_started(
            self.publish,
            host=self.host,
            facts=self._facts(),
            power_states=self._power_states(),
            interrupted_builds=interrupted,
            instance_files=self.driver.list_instance_files(),
            storage=self._storage_pool(),
        )
        self.report_inventory()
        logger.info("compute host %s started (%s)", self.host, self.config.libvirt_uri)

    # A marker per build in progress: after a crash, the builds that were under way are
    # told apart from those still waiting in the queue (which will run normally).
    @property
    def _building_dir(self) -> Path:
        return Path(self.config.instances_path) / ".building"

    def _mark_building(self, server_uuid: str) -> Path:
        self._building_dir.mkdir(parents=True, exist_ok=True)
        marker = self._building_dir / server_uuid
        marker.touch()
        return marker

    def _interrupted_builds(self) -> list[str]:
        """Builds a previous run of this worker started and never finished; their partial
        guests are removed here, the conductor decides what becomes of the instances."""
        if not self._building_dir.is_dir():
            return []
        interrupted = []
        for marker in self._building_dir.iterdir():
            try:
                self.driver.destroy(marker.name, delete_files=True)
            except Exception:
                logger.exception("cleanup of interrupted build %s failed", marker.name)
            marker.unlink(missing_ok=True)
            interrupted.append(marker.name)
        if interrupted:
            logger.warning("builds interrupted by the last stop: %s", ", ".join(interrupted))
        return interrupted

    def report_inventory(self) -> None:
        from_compute.update_inventory(
            self.publish,
            compute_node_uuid=compute_node_uuid(self.host),
            host=self.host,
            inventories=self.driver.get_inventory(),
            traits=[],
        )

    def send_heartbeat(self) -> None:
        """Liveness, power states, what instances have files here, and inventory: cheap, and
        it heals any report that was lost."""
        observed_at = time.time()  # before reading: anything changed later is newer
        from_compute.compute_heartbeat(
            self.publish,
            host=self.host,
            facts=self._facts(),
            power_states=self._power_states(),
            observed_at=observed_at,
            instance_files=self.driver.list_instance_files(),
            storage=self._storage_pool(),
        )
        self.report_inventory()

    def _storage_pool(self) -> StoragePoolPayload | None:
        if self.storage is None:
            return None
        try:
            return self.storage.pool()
        except Exception:
            logger.exception("reading the volume pool of %s failed", self.host)
            return None

    def _facts(self) -> dict[str, Any]:
        """The hypervisor's facts, and this host's end of the networks' tunnels."""
        return {
            **self.driver.get_host_facts().to_payload(),
            "tunnel_ip": self.config.network.tunnel_ip,
        }

    def _power_states(self) -> dict[str, int]:
        return {uuid: int(state) for uuid, state in self.driver.get_all_power_states().items()}

    def heartbeat_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.config.report_interval):
            try:
                self.send_heartbeat()
            except Exception:
                logger.exception("heartbeat of %s failed; retrying next interval", self.host)

    def clean_image_cache(self) -> None:
        """Remove cached base images no guest here uses and nobody used for the grace period
        (``IMAGE_CACHE_GRACE``); without this the cache only ever grows."""
        removed = self.driver.manage_image_cache(min_unused_age=self.config.image_cache_grace)
        if removed:
            logger.info("image cache of %s: removed %d unused bases", self.host, len(removed))

    def image_cache_loop(self, stop: threading.Event) -> None:
        """`clean_image_cache` every ``IMAGE_CACHE_CLEANUP_INTERVAL`` seconds until `stop`;
        its own thread, so that a slow clean-up never delays a heartbeat."""
        while not stop.wait(self.config.image_cache_cleanup_interval):
            try:
                self.clean_image_cache()
            except Exception:
                logger.exception("image cache clean-up on %s failed; retrying later", self.host)

    # --- build ----------------------------------------------------------------------------------
    def build_server(self, payload: BuildPayload) -> None:
        """Create the volumes the build asks for, then the guest with its volumes (the root
        disk one of them when it boots from a volume) and its ports."""
        instance = InstanceSpec.from_payload(payload["instance"])
        request_id = payload.get("request_id")
        log = self._log(instance.uuid, request_id)
        marker = self._mark_building(instance.uuid)
        try:
            self._build(instance, payload, log)
        finally:
            marker.unlink(missing_ok=True)

    def _build(self, instance: InstanceSpec, payload: BuildPayload, log: InstanceLog) -> None:
        request_id = payload.get("request_id")
        started_at = time.time()  # the build event's start, as this host saw it
        try:
            if (
                self.driver.instance_exists(instance.uuid)
                and self.driver.get_power_state(instance.uuid) == RUNNING
            ):
                log.info("already running here (redelivered build); reporting it")
            else:
                # A partial instance from an interrupted attempt is removed before we start.
                self.driver.destroy(instance.uuid, delete_files=True)
                for volume in payload.get("volumes_to_create") or []:
                    self._create_volume_reported(volume, log)
                instance = self._with_volume_paths(instance)
                image = None if instance.root_volume else _image(payload.get("image"))
                self._plug(payload.get("networks"), log)
                log.info("spawning on %s", self.host)
                self.driver.spawn(instance, image)
            console = self._vnc(instance.uuid)
            from_compute.build_server_done(
                self.publish,
                host=self.host,
                server_uuid=instance.uuid,
                request_id=request_id,
                power_state=self._power_state(instance.uuid),
                console=console,
                started_at=started_at,
            )
            log.info("built on %s", self.host)
        except Exception as exc:
            log.exception("build failed on %s", self.host)
            try:
                self.driver.destroy(instance.uuid, delete_files=True)
                self._unplug([v.id for v in instance.network_info], log)
            except Exception:
                log.exception("cleanup after failed build failed")
            from_compute.build_server_failed(
                self.publish,
                host=self.host,
                server_uuid=instance.uuid,
                request_id=request_id,
                fault=fault_from(exc),
                alternates=payload.get("alternates", []),
                started_at=started_at,
            )

    # --- volumes --------------------------------------------------------------------------------
    def _storage(self) -> StorageAgent:
        if self.storage is None:
            raise RuntimeError(f"host {self.host} keeps no volumes")
        return self.storage

    def _with_volume_paths(self, instance: InstanceSpec) -> InstanceSpec:
        """The instance with its volumes found in this host's pool (path, type, format)."""
        if not instance.block_devices:
            return instance
        storage = self._storage()
        devices = [
            BlockDeviceSpec.from_payload(storage.connect(device.to_payload()))
            for device in instance.block_devices
        ]
        return dataclasses.replace(instance, block_devices=devices)

    def _create_volume(self, payload: VolumeCreatePayload) -> None:
        image = payload.get("image")
        path = None
        # A snapshot or a volume is the source when named; the image only otherwise.
        if image and not payload.get("snapshot_id") and not payload.get("source_volume_id"):
            storage = self._storage()
            if storage.backend.volume_size(payload["volume_id"]) is None:
                path = self.driver.fetch_image(ImageSource.from_payload(image))
        self._storage().create(payload, image=path, image_format="qcow2")

    def _create_volume_reported(self, payload: VolumeCreatePayload, log: InstanceLog) -> None:
        """A build's volume: created and reported; a failure is reported, then raised (the
        build fails with it)."""
        try:
            self._create_volume(payload)
        except Exception as exc:
            log.exception("volume %s could not be created", payload["volume_id"])
            self._volume_done("create", payload["volume_id"], None, payload, exc)
            raise
        self._volume_done("create", payload["volume_id"], None, payload, None)

    def _volume_done(
        self,
        operation: str,
        volume_id: str,
        snapshot_id: str | None,
        payload: Mapping[str, Any],
        exc: BaseException | None,
    ) -> None:
        from_compute.volume_done(
            self.publish,
            host=self.host,
            operation=operation,
            volume_id=volume_id,
            snapshot_id=snapshot_id,
            request_id=payload.get("request_id"),
            ok=exc is None,
            fault=fault_from(exc) if exc is not None else None,
        )

    def _storage_operation(
        self,
        operation: str,
        payload: Mapping[str, Any],
        work: Callable[[], None],
    ) -> None:
        """Run one operation on the pool and report it, ok or with its fault, exactly once."""
        volume_id, snapshot_id = payload["volume_id"], payload.get("snapshot_id")
        failure: BaseException | None = None
        try:
            work()
            logger.info("volume %s: %s done on %s", volume_id, operation, self.host)
        except Exception as exc:
            logger.exception("volume %s: %s failed on %s", volume_id, operation, self.host)
            failure = exc
        self._volume_done(operation, volume_id, snapshot_id, payload, failure)

    def create_volume(self, payload: VolumeCreatePayload) -> None:
        self._storage_operation("create", payload, lambda: self._create_volume(payload))

    def delete_volume(self, payload: to_compute.VolumeDeletePayload) -> None:
        self._storage_operation(
            "delete",
            payload,
            lambda: self._storage().delete(payload["volume_id"], payload["backend"]),
        )

    def extend_volume(self, payload: to_compute.VolumeExtendPayload) -> None:
        self._storage_operation("extend", payload, lambda: self._extend_volume(payload))

    def _extend_volume(self, payload: to_compute.VolumeExtendPayload) -> None:
        """Grow the volume; a guest that has it is told its new size. A qcow2 file a running
        guest holds is grown by its QEMU (the file is locked), anything else by the pool."""
        storage = self._storage()
        volume_id, backend, size_gb = payload["volume_id"], payload["backend"], payload["size_gb"]
        server_uuid = payload.get("server_uuid")
        size_bytes = int(size_gb) * 1024**3
        if (
            server_uuid
            and storage.grown_by_hypervisor_in_use(backend)
            and self.driver.extend_volume(server_uuid, volume_id, size_bytes)
        ):
            return
        storage.extend(volume_id, backend, int(size_gb))
        if server_uuid:
            self.driver.extend_volume(server_uuid, volume_id, size_bytes)

    def create_volume_snapshot(self, payload: to_compute.VolumeSnapshotPayload) -> None:
        self._storage_operation(
            "snapshot",
            payload,
            lambda: self._storage().create_snapshot(
                payload["snapshot_id"], payload["volume_id"], payload["backend"]
            ),
        )

    def delete_volume_snapshot(self, payload: to_compute.VolumeSnapshotPayload) -> None:
        self._storage_operation(
            "delete_snapshot",
            payload,
            lambda: self._storage().delete_snapshot(payload["snapshot_id"], payload["backend"]),
        )

    def attach_volume(self, payload: to_compute.AttachVolumePayload) -> None:
        """Plug the volume into the guest and say on which device, or why not."""
        server_uuid, device = payload["server_uuid"], payload["block_device"]
        log = self._log(server_uuid, payload.get("request_id"))
        used: str | None = None
        fault: Fault | None = None
        try:
            volume = BlockDeviceSpec.from_payload(self._storage().connect(device))
            used = self.driver.attach_volume(server_uuid, volume)
            log.info("volume %s attached as %s on %s", device["volume_id"], used, self.host)
        except Exception as exc:
            log.exception("attaching volume %s failed on %s", device["volume_id"], self.host)
            fault = fault_from(exc)
        from_compute.volume_attached(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            volume_id=device["volume_id"],
            attachment_id=payload["attachment_id"],
            request_id=payload.get("request_id"),
            ok=fault is None,
            device=used,
            fault=fault,
        )

    def detach_volume(self, payload: to_compute.DetachVolumePayload) -> None:
        """Unplug the volume: done once the domain no longer lists the disk."""
        server_uuid, volume_id = payload["server_uuid"], payload["volume_id"]
        log = self._log(server_uuid, payload.get("request_id"))
        device = payload.get("device_name")
        fault: Fault | None = None
        try:
            device = (
                self.driver.detach_volume(
                    server_uuid, volume_id, device, timeout=self.config.volume_detach_timeout
                )
                or device
            )
            log.info("volume %s detached on %s", volume_id, self.host)
        except Exception as exc:
            log.exception("detaching volume %s failed on %s", volume_id, self.host)
            fault = fault_from(exc)
        from_compute.volume_detached(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            volume_id=volume_id,
            attachment_id=payload["attachment_id"],
            request_id=payload.get("request_id"),
            ok=fault is None,
            device=device,
            fault=fault,
        )

    # --- networks -------------------------------------------------------------------------------
    def _plug(self, networks: HostNetworksPayload | None, log: InstanceLog) -> None:
        """The instance's ports on this host's networks, before its guest starts (so the tap
        libvirt creates finds its bridge, filter and DHCP entry in place)."""
        if not networks:
            return
        by_id = {n["id"]: n for n in networks["networks"]}
        for port in networks["ports"]:
            network = by_id[port["network_id"]]
            with self._apply_lock:
                self.network.plug_port(network, port)
                self._fresh_plugs[port["id"]] = (time.monotonic(), network, port)
            log.info("port %s plugged into network %s", port["id"], port["network_id"])

    def _unplug(self, port_ids: list[str], log: InstanceLog) -> None:
        for port_id in port_ids:
            with self._apply_lock:
                self._fresh_plugs.pop(port_id, None)
                self.network.unplug_port(port_id)
            log.info("port %s unplugged", port_id)

    def _with_fresh_plugs(self, state: HostNetworksPayload) -> HostNetworksPayload:
        """`state` and the ports plugged here in the last FRESH_PLUG_SECONDS that it lacks
        (with their networks): a state read before a port's allocation committed must not
        unplug it; the states after it have it, or its delete unplugs it."""
        now = time.monotonic()
        for port_id, (at, _, _) in list(self._fresh_plugs.items()):
            if now - at > FRESH_PLUG_SECONDS:
                del self._fresh_plugs[port_id]
        known = {p["id"] for p in state["ports"]}
        missing = [v for k, v in self._fresh_plugs.items() if k not in known]
        if not missing:
            return state
        networks = {n["id"]: n for n in state["networks"]}
        for _, network, _ in missing:
            networks.setdefault(network["id"], network)
        return {
            **state,
            "networks": list(networks.values()),
            "ports": [*state["ports"], *(port for _, _, port in missing)],
        }

    def sync_networks(self, payload: HostNetworksPayload) -> None:
        """Make this host's networks what the control plane says, whole (at start, after
        security groups, routers or floating IPs changed). Only the newest state is applied:
        one that is older than the last applied, or than one received meanwhile (a burst of
        changes queues several), is dropped."""
        generation = payload.get("generation", 0.0)
        with self._sync_lock:
            self._newest_sync = max(self._newest_sync, generation)
        with self._apply_lock:
            with self._sync_lock:
                stale = generation < self._newest_sync or generation <= self._applied_sync
            if stale:
                logger.info("networks of %s: a newer state came; this one skipped", self.host)
                return
            self.network.apply(self._with_fresh_plugs(payload))
            with self._sync_lock:
                self._applied_sync = generation
        logger.info(
            "networks of %s synced: %d networks, %d ports, %d routers",
            self.host,
            len(payload["networks"]),
            len(payload["ports"]),
            len(payload["routers"]),
        )

    def attach_interface(self, payload: to_compute.AttachInterfacePayload) -> None:
        server_uuid, port_id = payload["server_uuid"], payload["port_id"]
        log = self._log(server_uuid, payload.get("request_id"))
        fault: Fault | None = None
        try:
            self._plug(payload["networks"], log)
            self.driver.attach_interface(server_uuid, VifSpec.from_payload(payload["vif"]))
            log.info("port %s attached on %s", port_id, self.host)
        except Exception as exc:
            log.exception("attaching port %s failed on %s", port_id, self.host)
            fault = fault_from(exc)
            try:
                self.driver.detach_interface(server_uuid, port_id, timeout=0)
                self._unplug([port_id], log)
            except Exception:
                log.exception("cleanup after the failed attach of %s failed", port_id)
        from_compute.interface_attached(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            port_id=port_id,
            request_id=payload.get("request_id"),
            ok=fault is None,
            fault=fault,
        )

    def detach_interface(self, payload: to_compute.DetachInterfacePayload) -> None:
        server_uuid, port_id = payload["server_uuid"], payload["port_id"]
        log = self._log(server_uuid, payload.get("request_id"))
        fault: Fault | None = None
        try:
            self.driver.detach_interface(server_uuid, port_id)
            self._unplug([port_id], log)
            log.info("port %s detached on %s", port_id, self.host)
        except Exception as exc:
            log.exception("detaching port %s failed on %s", port_id, self.host)
            fault = fault_from(exc)
        from_compute.interface_detached(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            port_id=port_id,
            request_id=payload.get("request_id"),
            ok=fault is None,
            fault=fault,
        )

    def _vnc(self, server_uuid: str) -> Console | None:
        try:
            host, port = self.driver.get_vnc_console(server_uuid)
        except Exception:
            return None
        return {"host": host, "port": port} if port and port > 0 else None

    # --- simple operations ----------------------------------------------------------------------
    def simple_operation(self, operation: str, payload: to_compute.ServerActionPayload) -> None:
        server_uuid = payload["server_uuid"]
        request_id = payload.get("request_id")
        log = self._log(server_uuid, request_id)
        action = payload["action"]
        try:
            SIMPLE_OPERATIONS[operation](self.driver, server_uuid, payload)
        except Exception as exc:
            log.exception("%s failed on %s", action, self.host)
            from_compute.server_action_done(
                self.publish,
                host=self.host,
                server_uuid=server_uuid,
                action=action,
                request_id=request_id,
                ok=False,
                power_state=self._power_state(server_uuid),
                fault=fault_from(exc),
            )
            return
        log.info("%s done on %s", action, self.host)
        from_compute.server_action_done(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            action=action,
            request_id=request_id,
            ok=True,
            power_state=self._power_state(server_uuid),
            console=self._vnc(server_uuid),
        )

    def _power_state(self, server_uuid: str) -> int:
        try:
            return int(self.driver.get_power_state(server_uuid))
        except Exception:
            return 0

    # --- rebuild --------------------------------------------------------------------------------
    def rebuild_server(self, payload: to_compute.RebuildPayload) -> None:
        """Recreate the guest from the (new) image on this host; the flavor stays. Left
        stopped when the payload says so (a stopped server is rebuilt stopped)."""
        instance = InstanceSpec.from_payload(payload["instance"])
        request_id = payload.get("request_id")
        log = self._log(instance.uuid, request_id)
        ok, fault = True, None
        try:
            instance = self._with_volume_paths(instance)
            self.driver.destroy(instance.uuid, delete_files=True)
            image = None if instance.root_volume else _image(payload.get("image"))
            self.driver.spawn(instance, image)
            if not payload.get("power_on", True):
                self.driver.power_off(instance.uuid, timeout=0)  # a new guest: nothing to lose
        except Exception as exc:
            log.exception("rebuild failed on %s", self.host)
            ok, fault = False, fault_from(exc)
        from_compute.server_action_done(
            self.publish,
            host=self.host,
            server_uuid=instance.uuid,
            action="rebuild",
            request_id=request_id,
            ok=ok,
            power_state=self._power_state(instance.uuid),
            fault=fault,
            console=self._vnc(instance.uuid) if ok else None,
        )

    # --- delete ---------------------------------------------------------------------------------
    def delete_server(self, payload: to_compute.DeletePayload) -> None:
        server_uuid = payload["server_uuid"]
        log = self._log(server_uuid, payload.get("request_id"))
        try:
            self.driver.destroy(server_uuid, delete_files=True)
            self._unplug(payload.get("port_ids") or [], log)
        except Exception as exc:
            log.exception("delete failed on %s", self.host)
            from_compute.server_delete_failed(
                self.publish,
                host=self.host,
                server_uuid=server_uuid,
                request_id=payload.get("request_id"),
                fault=fault_from(exc),
            )
            return
        log.info("destroyed on %s", self.host)
        from_compute.server_deleted(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            request_id=payload.get("request_id"),
        )

    def destroy_orphan(self, server_uuid: str) -> None:
        self.driver.destroy(server_uuid, delete_files=True)
        logger.info("removed orphan instance %s from %s", server_uuid, self.host)

    # --- console --------------------------------------------------------------------------------
    def get_console_output(self, server_uuid: str, length: int | None) -> str:
        return self.driver.get_console_output(server_uuid, max_lines=length)

    # --- snapshot -------------------------------------------------------------------------------
    def snapshot_server(self, payload: to_compute.SnapshotPayload) -> None:
        server_uuid = payload["server_uuid"]
        request_id = payload.get("request_id")
        log = self._log(server_uuid, request_id)
        try:
            with tempfile.TemporaryDirectory(dir=self.config.instances_path) as tmp:
                path = Path(tmp) / "snapshot.qcow2"
                info = self.driver.snapshot(server_uuid, path)
                self._upload(payload["upload_url"], path)
            log.info("snapshot %s uploaded (%s bytes)", payload["image_id"], info.size)
        except Exception as exc:
            log.exception("snapshot failed on %s", self.host)
            from_compute.server_action_done(
                self.publish,
                host=self.host,
                server_uuid=server_uuid,
                action="createImage",
                request_id=request_id,
                ok=False,
                power_state=self._power_state(server_uuid),
                fault=fault_from(exc),
                extra={"image_id": payload["image_id"]},
            )
            return
        from_compute.server_action_done(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            action="createImage",
            request_id=request_id,
            ok=True,
            power_state=self._power_state(server_uuid),
            extra={"image_id": payload["image_id"]},
        )

    # --- resize / cold migration ----------------------------------------------------------------
    def resize_server(self, payload: to_compute.ResizePayload) -> None:
        """Source host: power off, flatten the disk and upload it to the transfer object."""
        server_uuid = payload["server_uuid"]
        log = self._log(server_uuid, payload.get("request_id"))
        report = functools.partial(
            from_compute.resize_migrated,
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            migration_uuid=payload["migration_uuid"],
            request_id=payload.get("request_id"),
            power_on=payload.get("power_on", True),
            transfer_image_id=payload["transfer_image_id"],
        )
        try:
            disk = self.driver.migrate_disk_and_power_off(server_uuid)
            self._upload(payload["upload_url"], Path(disk))
        except Exception as exc:
            log.exception("resize failed on source %s", self.host)
            report(ok=False, fault=fault_from(exc))
            return
        log.info("disk handed over from %s", self.host)
        report(ok=True)

    def finish_resize(self, payload: to_compute.FinishResizePayload) -> None:
        """Destination host: fetch the disk, define and (maybe) start with the new flavor."""
        instance = InstanceSpec.from_payload(payload["instance"])
        log = self._log(instance.uuid, payload.get("request_id"))
        report = functools.partial(
            from_compute.resize_finished,
            self.publish,
            host=self.host,
            server_uuid=instance.uuid,
            migration_uuid=payload["migration_uuid"],
            request_id=payload.get("request_id"),
            transfer_image_id=payload.get("transfer_image_id"),
        )
        try:
            instance = self._with_volume_paths(instance)
            self._plug(payload.get("networks"), log)
            with tempfile.TemporaryDirectory(dir=self.config.instances_path) as tmp:
                disk = Path(tmp) / "disk.transfer"
                transfer.download(
                    payload["disk_url"],
                    disk,
                    control_plane=self.control_plane,
                    timeout=TRANSFER_TIMEOUT,
                )
                self.driver.finish_migration(
                    instance,
                    disk,
                    ImageSource.from_payload(payload["image"]),
                    power_on=bool(payload.get("power_on", True)),
                )
        except Exception as exc:
            log.exception("finishing resize failed on %s", self.host)
            try:
                self.driver.destroy(instance.uuid, delete_files=True)
            except Exception:
                log.exception("cleanup after failed resize failed")
            report(ok=False, fault=fault_from(exc))
            return
        log.info("resized instance running on %s", self.host)
        report(
            ok=True, power_state=self._power_state(instance.uuid), console=self._vnc(instance.uuid)
        )

    def confirm_resize(self, payload: to_compute.AnswerResizePayload) -> None:
        """Source host: the resize is kept; remove the copy left here."""
        server_uuid = payload["server_uuid"]
        # Also on the same host: it removes the source copy and never touches the new guest.
        self.driver.confirm_migration(server_uuid)
        from_compute.resize_confirmed(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            migration_uuid=payload["migration_uuid"],
            request_id=payload.get("request_id"),
        )

    def revert_resize(self, payload: to_compute.AnswerResizePayload) -> None:
        """Destination host: the resize is abandoned; remove the new copy."""
        server_uuid = payload["server_uuid"]
        if not payload.get("same_host"):
            self.driver.destroy(server_uuid, delete_files=True)
        from_compute.resize_reverted_on_dest(
            self.publish,
            host=self.host,
            server_uuid=server_uuid,
            migration_uuid=payload["migration_uuid"],
            request_id=payload.get("request_id"),
        )

    def finish_revert_resize(self, payload: to_compute.FinishRevertPayload) -> None:
        """Source host: bring the instance back with its old flavor and disk."""
        instance = InstanceSpec.from_payload(payload["instance"])
        log = self._log(instance.uuid, payload.get("request_id"))
        report = functools.partial(
            from_compute.resize_reverted,
            self.publish,
            host=self.host,
            server_uuid=instance.uuid,
            migration_uuid=payload["migration_uuid"],
            request_id=payload.get("request_id"),
        )
        try:
            instance = self._with_volume_paths(instance)
            self._plug(payload.get("networks"), log)
            self.driver.finish_revert_migration(
                instance, power_on=bool(payload.get("power_on", True))
            )
        except Exception as exc:
            log.exception("revert failed on %s", self.host)
            report(ok=False, fault=fault_from(exc))
            return
        report(
            ok=True, power_state=self._power_state(instance.uuid), console=self._vnc(instance.uuid)
        )


# Seconds without a byte from the other side before a transfer is abandoned.
TRANSFER_TIMEOUT = 600


def _image(payload: ImagePayload | None) -> ImageSource:
    """The image a guest boots from; a payload without one (no URL) is refused."""
    if not payload or not payload.get("url"):
        raise ValueError("the instance has neither an image nor a boot volume")
    return ImageSource.from_payload(payload)

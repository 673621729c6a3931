"""LibvirtDriver on libvirt's test:///default: life cycle, power states, consoles, host facts,
events and snapshots, with real files, real qemu-img and a real HTTP image server."""

import hashlib
import logging
import queue
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.workers.conftest import (
    ImageServer,
    ServedImage,
    has_pattern,
    make_config,
    make_qcow2,
    origin,
    qemu_img_info,
    running_driver,
    write_pattern,
)
from workers.virt import exceptions
from workers.virt.driver import InstanceEvent, InstanceSpec, PowerState, VifSpec
from workers.virt.libvirt.driver import LibvirtDriver

GiB = 1024**3
EVENT_TIMEOUT_S = 10


@pytest.fixture
def spawned(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> InstanceSpec:
    instance = make_instance()
    driver.spawn(instance, served_image.source())
    return instance


# --- spawn and destroy -------------------------------------------------------------------------


def test_spawn_starts_the_guest_and_lays_out_its_files(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    instance = make_instance(root_gb=2, ephemeral_gb=1, swap_mb=32)
    image = served_image.source()

    # when
    driver.spawn(instance, image)

    # then
    inst_dir = driver.config.instances_path / instance.uuid
    assert driver.get_power_state(instance.uuid) == PowerState.RUNNING
    assert sorted(p.name for p in inst_dir.iterdir()) == [
        "disk",
        "disk.config",
        "disk.eph0",
        "disk.swap",
    ]
    assert inst_dir.stat().st_mode & 0o777 == 0o755
    disk = qemu_img_info(inst_dir / "disk")
    assert disk["virtual-size"] == 2 * GiB
    assert disk["full-backing-filename"] == str(driver.image_cache.base_path(image))
    assert has_pattern(inst_dir / "disk", 0x5A, offset=0, length=1024 * 1024)
    assert qemu_img_info(inst_dir / "disk.eph0")["virtual-size"] == GiB
    assert qemu_img_info(inst_dir / "disk.swap")["virtual-size"] == 32 * 1024**2


def test_spawn_with_root_gb_zero_keeps_the_image_size(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    instance = make_instance(root_gb=0, config_drive=False)

    # when
    driver.spawn(instance, served_image.source())

    # then
    disk = driver.config.instances_path / instance.uuid / "disk"
    assert qemu_img_info(disk)["virtual-size"] == 16 * 1024**2
    assert not (disk.parent / "disk.config").exists()


def test_spawn_twice_raises_instance_exists_and_keeps_the_first(
    driver: LibvirtDriver, spawned: InstanceSpec, served_image: ServedImage
) -> None:
    # when
    with pytest.raises(exceptions.InstanceExists):
        driver.spawn(spawned, served_image.source())

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING
    assert (driver.config.instances_path / spawned.uuid / "disk").is_file()


def test_failed_spawn_cleans_up_the_partial_instance(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given: the image is corrupted on the way
    instance = make_instance()
    image = served_image.source(checksum="0" * 32)

    # when
    with pytest.raises(exceptions.ImageChecksumMismatch):
        driver.spawn(instance, image)

    # then
    assert instance.uuid not in driver.list_instance_uuids()
    assert not (driver.config.instances_path / instance.uuid).exists()
    assert not driver.image_cache.base_path(image).exists()


def test_spawn_refuses_a_flavor_disk_smaller_than_the_image(
    driver: LibvirtDriver,
    make_instance: Callable[..., InstanceSpec],
    image_server: ImageServer,
    tmp_path: Path,
) -> None:
    # given: a 2 GiB image and a 1 GiB flavor disk
    big = image_server.serve(make_qcow2(tmp_path / "big.qcow2", size_mib=2048))
    instance = make_instance(root_gb=1)

    # when
    with pytest.raises(exceptions.FlavorDiskSmallerThanImage):
        driver.spawn(instance, big.source())

    # then
    assert not (driver.config.instances_path / instance.uuid).exists()


def test_spawn_failure_in_libvirt_becomes_spawn_failed(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given: a foreign domain (another uuid) already holds the name our domain needs
    instance = make_instance()
    foreign = driver.host.define(
        f"<domain type='qemu'><name>instance-{instance.uuid}</name>"
        "<memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>"
    )
    try:
        # when
        with pytest.raises(exceptions.SpawnFailed, match="already exists"):
            driver.spawn(instance, served_image.source())

        # then: our files are gone, the foreign domain is untouched
        assert not (driver.config.instances_path / instance.uuid).exists()
        assert driver.host.find(foreign.uuid) is not None
    finally:
        foreign.undefine()


def test_destroy_removes_domain_and_files_and_is_idempotent(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # when
    driver.destroy(spawned.uuid)
    driver.destroy(spawned.uuid)

    # then
    assert spawned.uuid not in driver.list_instance_uuids()
    assert not (driver.config.instances_path / spawned.uuid).exists()
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_power_state(spawned.uuid)


def test_destroy_says_destroyed_only_when_there_was_something(
    driver: LibvirtDriver, spawned: InstanceSpec, caplog: pytest.LogCaptureFixture
) -> None:
    # given: a build clears a possible leftover before it spawns (nothing there, usually)
    never_built = "0d5c7a1e-2b3f-4c8d-9e6a-7f1b2c3d4e5f"
    caplog.set_level(logging.INFO, logger="workers.virt.libvirt.driver")

    # when
    driver.destroy(never_built)
    driver.destroy(spawned.uuid)

    # then: the log says what happened to which instance, and nothing about the one not there
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert f"[instance {spawned.uuid}] destroyed" in said
    assert not [line for line in said if never_built in line]


def test_destroy_can_keep_files(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # when
    driver.destroy(spawned.uuid, delete_files=False)

    # then
    assert not driver.instance_exists(spawned.uuid)
    assert (driver.config.instances_path / spawned.uuid / "disk").is_file()


def test_instance_files_are_listed_with_or_without_a_guest(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # given: the spawned guest's files, files without a guest, a resize's source copy alone,
    # and directories that are no instance's
    root = driver.config.instances_path
    no_guest = "9b2d6c1e-6f8a-4a43-9f0e-3c1f1d7a2b10"
    resize_only = "4f0c2a8e-1b7d-4c55-8a6e-0d9e3b2c1a99"
    (root / no_guest).mkdir()
    (root / f"{resize_only}_resize").mkdir()
    (root / ".building").mkdir(exist_ok=True)
    (root / "lost+found").mkdir()

    # when
    listed = driver.list_instance_files()

    # then
    assert listed == sorted([spawned.uuid, no_guest, resize_only])


def test_destroy_of_an_unknown_or_malformed_uuid_is_a_no_op(driver: LibvirtDriver) -> None:
    # when / then: no error
    driver.destroy("6c0b2b3e-1111-4c3e-9a1e-000000000000")
    driver.destroy("../../etc")


# --- power -------------------------------------------------------------------------------------


def test_power_off_and_on(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # when
    driver.power_off(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.SHUTDOWN

    # when
    driver.power_off(spawned.uuid)  # idempotent
    driver.power_on(spawned.uuid)
    driver.power_on(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING


def test_power_off_with_zero_timeout_forces_the_guest_off(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # when
    driver.power_off(spawned.uuid, timeout=0)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.SHUTDOWN


@pytest.mark.parametrize("hard", [False, True])
def test_reboot_leaves_the_guest_running(
    driver: LibvirtDriver, spawned: InstanceSpec, hard: bool
) -> None:
    # when
    driver.reboot(spawned.uuid, hard=hard)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING


def test_reboot_starts_a_stopped_guest(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # given
    driver.power_off(spawned.uuid)

    # when
    driver.reboot(spawned.uuid, hard=False)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING


def test_hard_reboot_of_a_suspended_guest_drops_its_saved_state(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # given
    driver.suspend(spawned.uuid)

    # when
    driver.reboot(spawned.uuid, hard=True)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING
    assert not driver.host.lookup(spawned.uuid).has_managed_save()


def test_pause_and_unpause(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # when
    driver.pause(spawned.uuid)
    driver.pause(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.PAUSED

    # when
    driver.unpause(spawned.uuid)
    driver.unpause(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING


def test_suspend_and_resume(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # when
    driver.suspend(spawned.uuid)
    driver.suspend(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.SUSPENDED

    # when
    driver.resume(spawned.uuid)
    driver.resume(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.RUNNING


def test_a_paused_guest_can_be_suspended(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # given
    driver.pause(spawned.uuid)

    # when
    driver.suspend(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.SUSPENDED


def test_power_off_discards_a_suspended_state(driver: LibvirtDriver, spawned: InstanceSpec) -> None:
    # given
    driver.suspend(spawned.uuid)

    # when
    driver.power_off(spawned.uuid)

    # then
    assert driver.get_power_state(spawned.uuid) == PowerState.SHUTDOWN


@pytest.mark.parametrize("operation", ["pause", "unpause", "suspend", "resume"])
def test_operations_on_a_stopped_guest_raise_invalid_driver_state(
    driver: LibvirtDriver, spawned: InstanceSpec, operation: str
) -> None:
    # given
    driver.power_off(spawned.uuid)

    # when / then
    with pytest.raises(exceptions.InvalidDriverState, match="shutdown"):
        getattr(driver, operation)(spawned.uuid)


@pytest.mark.parametrize(
    "operation",
    ["reboot", "power_off", "power_on", "pause", "get_power_state", "get_vnc_console"],
)
def test_operations_on_an_unknown_guest_raise_instance_not_found(
    driver: LibvirtDriver, operation: str
) -> None:
    with pytest.raises(exceptions.InstanceNotFound):
        getattr(driver, operation)("6c0b2b3e-1111-4c3e-9a1e-000000000000")


# --- listing and states ------------------------------------------------------------------------


def test_list_and_power_states_cover_only_our_guests(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given: three guests in three states (and the test driver's own "test" domain)
    before = set(driver.list_instance_uuids())
    image = served_image.source()
    running, paused, stopped = (make_instance() for _ in range(3))
    for instance in (running, paused, stopped):
        driver.spawn(instance, image)
    driver.pause(paused.uuid)
    driver.power_off(stopped.uuid)

    # when
    uuids = driver.list_instance_uuids()
    states = driver.get_all_power_states()

    # then
    assert set(uuids) - before == {running.uuid, paused.uuid, stopped.uuid}
    assert {u: s for u, s in states.items() if u not in before} == {
        running.uuid: PowerState.RUNNING,
        paused.uuid: PowerState.PAUSED,
        stopped.uuid: PowerState.SHUTDOWN,
    }
    assert all(type(v) is PowerState for v in states.values())


# --- consoles ----------------------------------------------------------------------------------


def _write_console(driver: LibvirtDriver, instance: InstanceSpec, text: str) -> Path:
    """Write what QEMU would write to the serial log (the test driver runs no guest)."""
    log = driver.config.instances_path / instance.uuid / "console.log"
    with log.open("a") as f:
        f.write(text)
    return log


def test_console_output_returns_the_last_lines(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # given
    _write_console(driver, spawned, "".join(f"line {n}\n" for n in range(1, 101)))

    # when
    everything = driver.get_console_output(spawned.uuid)
    last_three = driver.get_console_output(spawned.uuid, max_lines=3)

    # then
    assert everything.startswith("line 1\n")
    assert everything.endswith("line 100\n")
    assert last_three == "line 98\nline 99\nline 100\n"
    assert driver.get_console_output(spawned.uuid, max_lines=0) == ""


def test_console_output_is_empty_before_the_guest_wrote_anything(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    assert driver.get_console_output(spawned.uuid) == ""


def test_console_log_is_capped_keeping_the_newest_lines(
    tmp_path: Path, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given: a 4 KiB cap and 10 KiB of output
    config = make_config(
        tmp_path, console_log_max_bytes=4096, control_plane_url=origin(served_image.url)
    )
    with running_driver(config) as drv:
        instance = make_instance()
        drv.spawn(instance, served_image.source())
        log = _write_console(
            drv, instance, "".join(f"{n:07d} xxxxxxxxxxxxxxx\n" for n in range(400))
        )

        # when
        output = drv.get_console_output(instance.uuid)

        # then: the oldest half is dropped at a line boundary
        assert log.stat().st_size <= 4096
        assert output.endswith("0000399 xxxxxxxxxxxxxxx\n")
        assert len(output.splitlines()[0]) == 23  # a whole line, not a cut one
        assert "0000000" not in output


def test_console_output_of_an_unknown_guest_raises(driver: LibvirtDriver) -> None:
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_console_output("6c0b2b3e-1111-4c3e-9a1e-000000000000")


def test_vnc_console_needs_a_running_guest_with_a_port(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # when / then: the test driver reports no port (-1) for a running guest
    with pytest.raises(exceptions.ConsoleNotAvailable, match="no VNC port"):
        driver.get_vnc_console(spawned.uuid)

    # given
    driver.power_off(spawned.uuid)

    # when / then
    with pytest.raises(exceptions.ConsoleNotAvailable, match="not running"):
        driver.get_vnc_console(spawned.uuid)


# --- host facts, inventory, events, connection -------------------------------------------------


def test_host_facts_describe_the_hypervisor_and_capacity(
    driver: LibvirtDriver, spawned: InstanceSpec
) -> None:
    # when
    facts = driver.get_host_facts()

    # then: the test driver's fixed node (16 CPUs, 3 GiB, i686)
    assert facts.hypervisor_type == "TEST"
    assert facts.hypervisor_version > 0
    assert (facts.vcpus, facts.memory_mb) == (16, 3072)
    assert facts.local_gb > 0
    assert facts.running_vms == 1
    assert facts.vcpus_used == 1
    assert facts.cpu_info["arch"] == "i686"
    assert set(facts.cpu_info["topology"]) == {"sockets", "cores", "threads"}
    assert facts.capabilities["supports_snapshot"] is True
    assert facts.to_payload()["hostname"] == facts.hostname


def test_inventory_reports_totals_per_resource_class(driver: LibvirtDriver) -> None:
    # when
    inventory = driver.get_inventory()

    # then
    assert set(inventory) == {"VCPU", "MEMORY_MB", "DISK_GB"}
    assert inventory["VCPU"] == {"total": 16, "min_unit": 1, "max_unit": 16, "step_size": 1}
    assert inventory["MEMORY_MB"]["total"] == 3072
    assert inventory["DISK_GB"]["total"] == driver.get_host_facts().local_gb


def test_lifecycle_events_reach_the_listener(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    events: queue.Queue[InstanceEvent] = queue.Queue()
    driver.register_event_listener(events.put)
    instance = make_instance()

    # when
    driver.spawn(instance, served_image.source())
    driver.pause(instance.uuid)
    driver.unpause(instance.uuid)
    driver.suspend(instance.uuid)
    driver.power_off(instance.uuid)

    # then
    seen: list[InstanceEvent] = []
    while len(seen) < 4:
        event = events.get(timeout=EVENT_TIMEOUT_S)
        if event.uuid == instance.uuid:
            seen.append(event)
    assert [(e.uuid, e.transition, e.power_state) for e in seen] == [
        (instance.uuid, "started", PowerState.RUNNING),
        (instance.uuid, "paused", PowerState.PAUSED),
        (instance.uuid, "resumed", PowerState.RUNNING),
        (instance.uuid, "suspended", PowerState.SUSPENDED),
    ]


def test_driver_reconnects_after_the_connection_dies(
    driver: LibvirtDriver, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    driver.host.get_connection().close()
    instance = make_instance()

    # when
    driver.spawn(instance, served_image.source())

    # then
    assert driver.get_power_state(instance.uuid) == PowerState.RUNNING


# --- snapshot ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["running", "paused", "stopped"])
def test_snapshot_writes_a_standalone_qcow2_and_keeps_the_power_state(
    driver: LibvirtDriver, spawned: InstanceSpec, tmp_path: Path, state: str
) -> None:
    # given: the guest wrote to its disk
    disk = driver.config.instances_path / spawned.uuid / "disk"
    write_pattern(disk, 0xC3, offset=4 * 1024 * 1024, length=65536)
    expected = {"running": PowerState.RUNNING, "paused": PowerState.PAUSED}
    if state == "paused":
        driver.pause(spawned.uuid)
    elif state == "stopped":
        driver.power_off(spawned.uuid)
    dest = tmp_path / "snap.qcow2"

    # when
    info = driver.snapshot(spawned.uuid, dest)

    # then
    data = dest.read_bytes()
    assert info.path == dest
    assert info.size == len(data)
    assert info.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert (info.os_hash_algo, info.os_hash_value) == ("sha512", hashlib.sha512(data).hexdigest())
    assert info.virtual_size == 1024**3
    snap = qemu_img_info(dest)
    assert snap["format"] == "qcow2"
    assert "backing-filename" not in snap
    assert has_pattern(dest, 0x5A, offset=0, length=1024 * 1024)  # from the base image
    assert has_pattern(dest, 0xC3, offset=4 * 1024 * 1024, length=65536)  # the guest's own
    assert driver.get_power_state(spawned.uuid) == expected.get(state, PowerState.SHUTDOWN)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("snap")) == ["snap.qcow2"]


def test_snapshot_of_an_unknown_guest_raises_and_writes_nothing(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    with pytest.raises(exceptions.InstanceNotFound):
        driver.snapshot("6c0b2b3e-1111-4c3e-9a1e-000000000000", tmp_path / "x.qcow2")
    assert not (tmp_path / "x.qcow2").exists()


# --- housekeeping ------------------------------------------------------------------------------


def test_image_cache_cleanup_keeps_bases_that_guests_use(
    driver: LibvirtDriver,
    make_instance: Callable[..., InstanceSpec],
    image_server: ImageServer,
    tmp_path: Path,
) -> None:
    # given: two cached images; only the first backs a guest, and both are old
    used = image_server.serve(make_qcow2(tmp_path / "used.qcow2", pattern=1)).source()
    unused = image_server.serve(make_qcow2(tmp_path / "unused.qcow2", pattern=2)).source()
    driver.spawn(make_instance(), used)
    driver.image_cache.fetch(unused)

    # when
    removed = driver.manage_image_cache(min_unused_age=0)

    # then
    assert removed == [driver.image_cache.base_path(unused)]
    assert driver.image_cache.base_path(used).exists()


def test_trim_console_logs_caps_every_log(
    tmp_path: Path, make_instance: Callable[..., InstanceSpec], served_image: ServedImage
) -> None:
    # given
    config = make_config(
        tmp_path, console_log_max_bytes=1024, control_plane_url=origin(served_image.url)
    )
    with running_driver(config) as drv:
        instance = make_instance()
        drv.spawn(instance, served_image.source())
        log = _write_console(drv, instance, "x" * 99 + "\n" * 1 + ("y" * 99 + "\n") * 30)

        # when
        drv.trim_console_logs()

        # then
        assert log.stat().st_size <= 1024
        assert log.read_text().endswith("y" * 99 + "\n")


# --- interfaces (hot-plug itself needs real QEMU: tests/e2e/test_libvirt_driver_vm.py) ---------


def test_interface_calls_on_an_unknown_guest(driver: LibvirtDriver) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"
    vif = VifSpec(id="4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", mac="fa:16:3e:10:20:30", bridge="b")
    with pytest.raises(exceptions.InstanceNotFound):
        driver.attach_interface(unknown, vif)
    driver.detach_interface(unknown, vif.id)  # nothing there: nothing to detach

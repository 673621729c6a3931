"""Small helpers for end-to-end tests that boot real tinyos guests under libvirt/QEMU.

Owns: locating (building) the guest image, per-instance working directories, overlays,
config drive ISOs, a minimal domain XML, polling a serial log, and booted_guest, which
starts one domain and always removes it with its files. It must not import Django or
computecloud code, so any e2e test (or a Python shell) can use it; libvirt calls take a
connection the caller opened. What the guest prints is described in
tools/guest_image/README.md.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

import libvirt

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tools" / "guest_image" / "build.sh"
# Not pytest's tmp_path: that is 0700, and libvirt's QEMU must reach the files.
INSTANCES_ROOT = Path(
    os.environ.get("COMPUTECLOUD_TEST_INSTANCES", "/var/lib/computecloud/test-instances")
)

# Lines tinyos prints on its serial console (tools/guest_image/init).
LOGIN_RE = re.compile(r"^tinyos login: ", re.MULTILINE)


def hostname_re(hostname: str) -> re.Pattern[str]:
    """Pattern of the line tinyos prints after applying the config drive's hostname."""
    return re.compile(rf"^tinyos hostname: {re.escape(hostname)}\r?$", re.MULTILINE)


def build_image(*, force: bool = False, timeout: float = 600) -> Path:
    """Run tools/guest_image/build.sh (a no-op when cached) and return the image path.

    The path is the content-named ``tinyos-<hash>.qcow2``, not the ``tinyos.qcow2``
    symlink, so overlays keep a backing file that a later rebuild does not replace.
    """
    cmd = [str(BUILD_SCRIPT), *(["--force"] if force else [])]
    result = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{BUILD_SCRIPT} printed no image path")
    path = Path(lines[-1])
    if not path.is_file():
        raise RuntimeError(f"{BUILD_SCRIPT} printed {path}, which is not a file")
    return path


def make_instance_dir(name: str | None = None) -> Path:
    """Create a fresh 0755 directory for one guest's files under INSTANCES_ROOT."""
    INSTANCES_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = INSTANCES_ROOT / (name or uuid.uuid4().hex)
    path.mkdir(mode=0o755)
    path.chmod(0o755)  # mkdir's mode is filtered by the umask
    return path


def remove_instance_dir(path: Path) -> None:
    """Remove a directory made by make_instance_dir; refuses anything outside it."""
    if path.resolve().parent != INSTANCES_ROOT.resolve():
        raise ValueError(f"{path} is not an instance directory")
    shutil.rmtree(path, ignore_errors=True)


def make_overlay(base: Path, dest: Path) -> Path:
    """Create a qcow2 overlay at ``dest`` backed by ``base`` (left untouched)."""
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(dest)],
        check=True,
        timeout=60,
    )
    return dest


def make_config_drive(
    dest: Path,
    *,
    meta_data: Mapping[str, object],
    user_data: str | bytes | None = None,
) -> Path:
    """Write an OpenStack config drive ISO (label config-2) to ``dest``.

    ``meta_data`` becomes openstack/latest/meta_data.json; tinyos reads ``uuid`` and
    ``hostname`` from it and runs ``user_data`` when it starts with ``#!``.
    """
    staging = dest.with_name(dest.name + ".d")
    latest = staging / "openstack" / "latest"
    latest.mkdir(parents=True)
    try:
        (latest / "meta_data.json").write_text(json.dumps(dict(meta_data)))
        if user_data is not None:
            raw = user_data.encode() if isinstance(user_data, str) else user_data
            (latest / "user_data").write_bytes(raw)
        subprocess.run(
            ["genisoimage", "-quiet", "-o", str(dest), "-V", "config-2", "-J", "-R", str(staging)],
            check=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


@dataclass(frozen=True)
class GuestSpec:
    """What render_domain_xml needs; defaults boot tinyos under TCG on this machine."""

    name: str
    uuid: str
    disk: Path
    serial_log: Path
    config_drive: Path | None = None
    memory_mib: int = 256
    vcpus: int = 1
    # KVM is listed by libvirt here but its guests stop with emulation failures.
    domain_type: str = "qemu"


def render_domain_xml(spec: GuestSpec) -> str:
    """Render the domain XML known to work here (HOST-NOTES.md): i440fx, virtio qcow2
    disk, the config drive as an IDE CD-ROM (the guest kernel has no AHCI driver),
    serial console to a file, VNC on 127.0.0.1 and ACPI so ``shutdown`` reaches acpid.
    """
    cdrom = ""
    if spec.config_drive is not None:
        cdrom = f"""
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file={quoteattr(str(spec.config_drive))}/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>"""
    return f"""<domain type={quoteattr(spec.domain_type)}>
  <name>{escape(spec.name)}</name>
  <uuid>{escape(spec.uuid)}</uuid>
  <memory unit='MiB'>{spec.memory_mib}</memory>
  <vcpu>{spec.vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file={quoteattr(str(spec.disk))}/>
      <target dev='vda' bus='virtio'/>
    </disk>{cdrom}
    <serial type='file'>
      <source path={quoteattr(str(spec.serial_log))}/>
      <target port='0'/>
    </serial>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
"""


def read_serial(path: Path) -> str:
    """Return the serial log so far ('' before QEMU creates it)."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def wait_for_serial(path: Path, pattern: str | re.Pattern[str], timeout: float = 120) -> str:
    """Poll the serial log until ``pattern`` (a regex) matches; return the match.

    Raises TimeoutError carrying the log's tail, which is what one needs to debug a
    guest that did not boot.
    """
    regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    while True:
        text = read_serial(path)
        match = regex.search(text)
        if match:
            return match.group(0)
        if time.monotonic() >= deadline:
            tail = text[-2000:] or "(empty)"
            raise TimeoutError(
                f"{regex.pattern!r} not in {path} after {timeout:.0f} s; log tail:\n{tail}"
            )
        time.sleep(0.2)  # poll interval, not a wait for the guest


@dataclass(frozen=True)
class Guest:
    """A running guest made by booted_guest; its files live in ``directory``."""

    name: str
    uuid: str
    domain: libvirt.virDomain
    directory: Path
    serial_log: Path
    # time.monotonic() right after the domain started, to time boots.
    started_at: float

    def vnc_port(self) -> int:
        """The VNC TCP port libvirt picked (autoport), from the live domain XML."""
        # libvirt's own description of a domain we defined: trusted input.
        desc = ElementTree.fromstring(self.domain.XMLDesc())  # noqa: S314
        graphics = desc.find("./devices/graphics[@type='vnc']")
        if graphics is None:
            raise LookupError(f"{self.name} has no VNC graphics")
        return int(graphics.get("port", "-1"))


def destroy_guest(conn: libvirt.virConnect, name: str, directory: Path | None = None) -> None:
    """Stop and undefine domain ``name`` if it exists, then remove its directory.

    Tolerates every partial state (never defined, defined but not running, already
    gone), so it is safe in finalizers after any failure.
    """
    # listAllDomains, not lookupByName: a missing domain is normal here, and libvirt's
    # default error handler would print the lookup failure to stderr.
    domain = next((d for d in conn.listAllDomains() if d.name() == name), None)
    if domain is not None:
        with contextlib.suppress(libvirt.libvirtError):
            if domain.isActive():
                domain.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            domain.undefine()
    if directory is not None:
        remove_instance_dir(directory)


def destroy_guests_under(directory: Path) -> list[str]:
    """Stop and undefine every domain whose files live under `directory` (a test's hosts'
    instance directories): what a test that failed half-way left running. Returns their names."""
    conn = libvirt.open("qemu:///system")
    try:
        names = [
            d.name()
            for d in conn.listAllDomains()
            if str(directory) in d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        ]
        for name in names:
            destroy_guest(conn, name)
        return names
    finally:
        conn.close()


@contextlib.contextmanager
def booted_guest(
    conn: libvirt.virConnect,
    image: Path,
    *,
    hostname: str,
    user_data: str | bytes | None = None,
    name: str | None = None,
    memory_mib: int = 256,
) -> Iterator[Guest]:
    """Boot tinyos from an overlay of ``image`` with a config drive; remove all on exit.

    The domain is named ``name`` (default ``e2e-<uuid>``) and is destroyed, undefined
    and its directory deleted when the block ends, whether it ends by an exception or
    not. It does not wait for the guest: use wait_for_serial on ``guest.serial_log``.
    """
    instance_uuid = str(uuid.uuid4())
    name = name or f"e2e-{instance_uuid}"
    directory = make_instance_dir(instance_uuid)
    try:
        disk = make_overlay(image, directory / "disk.qcow2")
        config_drive = make_config_drive(
            directory / "config.iso",
            meta_data={"uuid": instance_uuid, "name": name, "hostname": hostname},
            user_data=user_data,
        )
        serial_log = directory / "console.log"
        spec = GuestSpec(
            name=name,
            uuid=instance_uuid,
            disk=disk,
            serial_log=serial_log,
            config_drive=config_drive,
            memory_mib=memory_mib,
        )
        domain = conn.defineXML(render_domain_xml(spec))
        domain.create()
        yield Guest(
            name=name,
            uuid=instance_uuid,
            domain=domain,
            directory=directory,
            serial_log=serial_log,
            started_at=time.monotonic(),
        )
    finally:
        destroy_guest(conn, name, directory)

"""Domain XML ↔ dataclasses. Object ↔ XML only; no decisions.

`GuestConfig.to_xml` renders what driver.py decided (names, buses, paths, virt type);
`GuestConfig.from_xml` reads a domain's XML back (a live domain's XML carries the VNC port
libvirt picked). Nothing here reads configuration, touches files or talks to libvirt.

The shape follows what was measured to work on this project's hosts (HOST-NOTES.md): i440fx
machine, ACPI (needed for clean shutdown and hot-plug), virtio qcow2 disks, the config drive
as a read-only IDE CD-ROM, the serial console written to a file with ``append='on'`` (so a
restart does not erase the previous boot's output), VNC with an automatic port.
"""

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

#: Namespace of our <metadata> element, so operators see whose domain it is in `virsh dumpxml`.
METADATA_NS = "http://computecloud.org/xmlns/libvirt/instance/1.0"
_MD = f"{{{METADATA_NS}}}"
_KIB_PER_UNIT = {
    "b": 1 / 1024,
    "bytes": 1 / 1024,
    "k": 1,
    "kib": 1,
    "kb": 1000 / 1024,
    "m": 1024,
    "mib": 1024,
    "mb": 1000**2 / 1024,
    "g": 1024**2,
    "gib": 1024**2,
    "gb": 1000**3 / 1024,
}


@dataclass
class GuestDisk:
    """A <disk>: a file or block device seen by the guest as a disk or CD-ROM."""

    source_path: str
    target_dev: str
    target_bus: str = "virtio"
    device: str = "disk"  # "disk" or "cdrom"
    source_type: str = "file"  # "file" or "block"
    driver_format: str = "qcow2"
    read_only: bool = False
    serial: str | None = None


@dataclass
class GuestInterface:
    """An <interface type='bridge'>: a tap device enslaved to a host bridge."""

    mac: str
    bridge: str
    model: str = "virtio"
    mtu: int | None = None
    target_dev: str | None = None  # the host tap name; None lets libvirt pick vnetN


@dataclass
class GuestSerial:
    """The first serial port and the console on it, written to a file."""

    log_path: str
    append: bool = True


@dataclass
class GuestGraphics:
    """A VNC server; ``port`` None means autoport (the live XML then carries the port)."""

    listen: str = "127.0.0.1"
    port: int | None = None
    type: str = "vnc"


@dataclass
class GuestMetadata:
    """Facts for operators reading `virsh dumpxml`; libvirt ignores them."""

    instance_name: str
    flavor_name: str = ""
    memory_mb: int = 0
    vcpus: int = 0
    root_gb: int = 0
    ephemeral_gb: int = 0
    swap_mb: int = 0
    project_id: str = ""
    user_id: str = ""
    image_id: str = ""


@dataclass
class GuestConfig:
    """One libvirt domain."""

    name: str
    uuid: str
    virt_type: str  # "kvm" or "qemu" (TCG)
    memory_mb: int
    vcpus: int
    machine_type: str = "pc"
    arch: str = "x86_64"
    acpi: bool = True
    disks: list[GuestDisk] = field(default_factory=list)
    interfaces: list[GuestInterface] = field(default_factory=list)
    serial: GuestSerial | None = None
    graphics: GuestGraphics | None = None
    video_model: str | None = None  # None: libvirt's default (cirrus)
    metadata: GuestMetadata | None = None

    # --- rendering ------------------------------------------------------------------------------

    def to_xml(self) -> str:
        domain = ET.Element("domain", type=self.virt_type)
        ET.SubElement(domain, "name").text = self.name
        ET.SubElement(domain, "uuid").text = self.uuid
        if self.metadata is not None:
            _render_metadata(ET.SubElement(domain, "metadata"), self.metadata)
        ET.SubElement(domain, "memory", unit="MiB").text = str(self.memory_mb)
        ET.SubElement(domain, "currentMemory", unit="MiB").text = str(self.memory_mb)
        ET.SubElement(domain, "vcpu").text = str(self.vcpus)
        os_ = ET.SubElement(domain, "os")
        ET.SubElement(os_, "type", arch=self.arch, machine=self.machine_type).text = "hvm"
        ET.SubElement(os_, "boot", dev="hd")
        features = ET.SubElement(domain, "features")
        if self.acpi:
            ET.SubElement(features, "acpi")
        ET.SubElement(domain, "clock", offset="utc")
        # A guest that powers itself off stays defined and shut off, as users expect.
        ET.SubElement(domain, "on_poweroff").text = "destroy"
        ET.SubElement(domain, "on_reboot").text = "restart"
        ET.SubElement(domain, "on_crash").text = "destroy"
        devices = ET.SubElement(domain, "devices")
        for disk in self.disks:
            _render_disk(devices, disk)
        for interface in self.interfaces:
            _render_interface(devices, interface)
        if self.serial is not None:
            for tag in ("serial", "console"):
                chardev = ET.SubElement(devices, tag, type="file")
                source = ET.SubElement(chardev, "source", path=self.serial.log_path)
                if self.serial.append:
                    source.set("append", "on")
                target = ET.SubElement(chardev, "target", port="0")
                if tag == "console":
                    target.set("type", "serial")
        if self.graphics is not None:
            graphics = ET.SubElement(devices, "graphics", type=self.graphics.type)
            if self.graphics.port is None:
                graphics.set("autoport", "yes")
            else:
                graphics.set("autoport", "no")
                graphics.set("port", str(self.graphics.port))
            graphics.set("listen", self.graphics.listen)
        if self.video_model is not None:
            video = ET.SubElement(devices, "video")
            ET.SubElement(video, "model", type=self.video_model)
        ET.SubElement(devices, "memballoon", model="virtio")
        ET.indent(domain)
        return ET.tostring(domain, encoding="unicode") + "\n"

    # --- parsing --------------------------------------------------------------------------------

    @classmethod
    def from_xml(cls, xml: str) -> "GuestConfig":
        """Read a domain's XML (as libvirt returns it, with its defaults filled in)."""
        root = ET.fromstring(xml)  # noqa: S314 -- libvirt's own output, not user input
        os_type = root.find("./os/type")
        config = cls(
            name=root.findtext("name", ""),
            uuid=root.findtext("uuid", ""),
            virt_type=root.get("type", ""),
            memory_mb=_memory_mb(root.find("memory")),
            vcpus=int(root.findtext("vcpu", "0")),
            machine_type=os_type.get("machine", "") if os_type is not None else "",
            arch=os_type.get("arch", "") if os_type is not None else "",
            acpi=root.find("./features/acpi") is not None,
        )
        for disk in root.iterfind("./devices/disk"):
            config.disks.append(_parse_disk(disk))
        for interface in root.iterfind("./devices/interface"):
            mtu = interface.find("mtu")
            config.interfaces.append(
                GuestInterface(
                    mac=_attr(interface, "mac", "address"),
                    bridge=_attr(interface, "source", "bridge"),
                    model=_attr(interface, "model", "type"),
                    mtu=int(mtu.get("size", "0")) if mtu is not None else None,
                    target_dev=_attr(interface, "target", "dev") or None,
                )
            )
        serial = root.find("./devices/serial[@type='file']/source")
        if serial is not None:
            config.serial = GuestSerial(
                log_path=serial.get("path", ""), append=serial.get("append") == "on"
            )
        graphics = root.find("./devices/graphics")
        if graphics is not None:
            # -1 (or nothing) until a running domain has the port libvirt picked.
            port = int(graphics.get("port", "-1"))
            config.graphics = GuestGraphics(
                type=graphics.get("type", "vnc"),
                listen=graphics.get("listen", ""),
                port=port if port > 0 else None,
            )
        video = root.find("./devices/video/model")
        if video is not None:
            config.video_model = video.get("type")
        instance = root.find(f"./metadata/{_MD}instance")
        if instance is not None:
            config.metadata = _parse_metadata(instance)
        return config

    def disk_by_target(self, target_dev: str) -> GuestDisk | None:
        return next((d for d in self.disks if d.target_dev == target_dev), None)


def _render_disk(devices: ET.Element, disk: GuestDisk) -> None:
    element = ET.SubElement(devices, "disk", type=disk.source_type, device=disk.device)
    ET.SubElement(element, "driver", name="qemu", type=disk.driver_format)
    source_attr = "dev" if disk.source_type == "block" else "file"
    ET.SubElement(element, "source", {source_attr: disk.source_path})
    ET.SubElement(element, "target", dev=disk.target_dev, bus=disk.target_bus)
    if disk.read_only:
        ET.SubElement(element, "readonly")
    if disk.serial:
        ET.SubElement(element, "serial").text = disk.serial


def disk_xml(disk: GuestDisk) -> str:
    """One <disk> element on its own: what a hot-plug or unplug is given."""
    holder = ET.Element("devices")
    _render_disk(holder, disk)
    return ET.tostring(holder[0], encoding="unicode")


def interface_xml(interface: GuestInterface) -> str:
    """One <interface> element on its own: what a live attach or detach is given."""
    holder = ET.Element("devices")
    _render_interface(holder, interface)
    return ET.tostring(holder[0], encoding="unicode")


def _render_interface(devices: ET.Element, interface: GuestInterface) -> None:
    element = ET.SubElement(devices, "interface", type="bridge")
    ET.SubElement(element, "mac", address=interface.mac)
    ET.SubElement(element, "source", bridge=interface.bridge)
    ET.SubElement(element, "model", type=interface.model)
    if interface.mtu:
        ET.SubElement(element, "mtu", size=str(interface.mtu))
    if interface.target_dev:
        ET.SubElement(element, "target", dev=interface.target_dev)


def _render_metadata(parent: ET.Element, md: GuestMetadata) -> None:
    # Literal prefixed names with their xmlns on the element itself: libvirt keeps metadata
    # per namespace and wants the declaration on the element, not on <domain>.
    instance = ET.SubElement(parent, "cc:instance", {"xmlns:cc": METADATA_NS})
    ET.SubElement(instance, "cc:name").text = md.instance_name
    ET.SubElement(
        instance,
        "cc:flavor",
        name=md.flavor_name,
        memory_mb=str(md.memory_mb),
        vcpus=str(md.vcpus),
        root_gb=str(md.root_gb),
        ephemeral_gb=str(md.ephemeral_gb),
        swap_mb=str(md.swap_mb),
    )
    ET.SubElement(instance, "cc:owner", project_id=md.project_id, user_id=md.user_id)
    ET.SubElement(instance, "cc:image", id=md.image_id)


def _parse_metadata(instance: ET.Element) -> GuestMetadata:
    flavor = instance.find(f"{_MD}flavor")
    owner = instance.find(f"{_MD}owner")
    image = instance.find(f"{_MD}image")

    def number(name: str) -> int:
        return int(flavor.get(name, "0")) if flavor is not None else 0

    return GuestMetadata(
        instance_name=instance.findtext(f"{_MD}name", ""),
        flavor_name=flavor.get("name", "") if flavor is not None else "",
        memory_mb=number("memory_mb"),
        vcpus=number("vcpus"),
        root_gb=number("root_gb"),
        ephemeral_gb=number("ephemeral_gb"),
        swap_mb=number("swap_mb"),
        project_id=owner.get("project_id", "") if owner is not None else "",
        user_id=owner.get("user_id", "") if owner is not None else "",
        image_id=image.get("id", "") if image is not None else "",
    )


def _parse_disk(disk: ET.Element) -> GuestDisk:
    source = disk.find("source")
    path = ""
    if source is not None:
        path = source.get("file") or source.get("dev") or ""
    return GuestDisk(
        source_path=path,
        target_dev=_attr(disk, "target", "dev"),
        target_bus=_attr(disk, "target", "bus"),
        device=disk.get("device", "disk"),
        source_type=disk.get("type", "file"),
        driver_format=_attr(disk, "driver", "type") or "raw",
        read_only=disk.find("readonly") is not None,
        serial=disk.findtext("serial"),
    )


def _attr(element: ET.Element, child: str, name: str) -> str:
    found = element.find(child)
    return found.get(name, "") if found is not None else ""


def _memory_mb(element: ET.Element | None) -> int:
    if element is None or not element.text:
        return 0
    kib = int(element.text) * _KIB_PER_UNIT[element.get("unit", "KiB").lower()]
    return int(kib // 1024)

"""Print "kvm" if a KVM guest really boots on this machine, else "qemu" (TCG).

`virsh capabilities` lists kvm wherever /dev/kvm exists, yet on some machines a KVM guest
stops in its boot loader ("emulation failure") or never prints a line. So this boots the guest
image as a KVM domain and waits for its login line on the serial log; anything else means TCG.
Used once by scripts/setup.sh, which stores the answer as VIRT_TYPE in .env.
"""

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import libvirt

DOMAIN_XML = """<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='{log}'/><target port='0'/></serial>
  </devices>
</domain>"""


def kvm_boots(image: Path, uri: str, timeout: float) -> bool:
    if not os.path.exists("/dev/kvm"):
        return False
    workdir = Path(tempfile.mkdtemp(prefix="cc-kvm-probe-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    disk, log = workdir / "disk.qcow2", workdir / "console.log"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), str(disk)],
        check=True,
    )
    conn = libvirt.open(uri)
    domain = None
    try:
        xml = DOMAIN_XML.format(name=f"cc-kvm-probe-{uuid.uuid4().hex[:8]}", disk=disk, log=log)
        try:
            domain = conn.createXML(xml, 0)
        except libvirt.libvirtError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log.exists() and b"login:" in log.read_bytes():
                return True
            state, _ = domain.state()
            if state in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_CRASHED):
                return False  # KVM's "emulation failure" pauses the guest
            time.sleep(0.5)
        return False
    finally:
        if domain is not None:
            with contextlib.suppress(libvirt.libvirtError):
                domain.destroy()
        conn.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--uri", default="qemu:///system")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    print("kvm" if kvm_boots(args.image, args.uri, args.timeout) else "qemu")
    return 0


if __name__ == "__main__":
    sys.exit(main())

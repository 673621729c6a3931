"""OpenStack config drives: an ISO 9660 image labelled ``config-2`` that cloud-init reads.

Contents (the openstack/latest flavour of Nova's metadata; cloud-init and tinyos read it)::

    openstack/latest/meta_data.json     uuid, name, hostname, launch_index,
                                        availability_zone, project_id, public_keys, keys,
                                        meta, devices
    openstack/latest/user_data          the decoded user data (only when given)
    openstack/latest/network_data.json  links, networks, services from the instance's VIFs
    openstack/latest/vendor_data.json   {}
    openstack/latest/vendor_data2.json  {}

The documents themselves are `computecloud.wire`'s, the same the metadata service serves.
Owns the file layout and the genisoimage call; which instances get a drive is the driver's
decision.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from computecloud import wire
from workers.virt import exceptions
from workers.virt.driver import InstanceSpec, VifSpec

GENISOIMAGE = "genisoimage"
VOLUME_LABEL = "config-2"


def meta_data(instance: InstanceSpec) -> dict[str, Any]:
    """The meta_data.json document of ``instance`` (`computecloud.wire.meta_data`)."""
    return wire.meta_data(instance.to_payload())


def network_data(vifs: list[VifSpec]) -> dict[str, Any]:
    """The network_data.json document of ``vifs`` (`computecloud.wire.network_data`)."""
    return wire.network_data([vif.to_payload() for vif in vifs])


def decode_user_data(instance: InstanceSpec) -> bytes | None:
    """The user data as bytes; ConfigDriveFailed if it is not valid base64."""
    try:
        return wire.decode_user_data(instance.user_data)
    except ValueError as exc:
        raise exceptions.ConfigDriveFailed(
            instance_uuid=instance.uuid, reason="user_data is not valid base64"
        ) from exc


def build_config_drive(dest: Path, instance: InstanceSpec, vifs: list[VifSpec]) -> Path:
    """Write ``instance``'s config drive ISO to ``dest`` (replacing it) and return ``dest``."""
    user_data = decode_user_data(instance)
    staging = Path(tempfile.mkdtemp(prefix=".configdrive-", dir=dest.parent))
    try:
        latest = staging / "openstack" / "latest"
        latest.mkdir(parents=True)
        documents = {
            wire.MD_JSON: meta_data(instance),
            wire.NW_JSON: network_data(vifs),
            wire.VD_JSON: wire.vendor_data(),
            wire.VD2_JSON: wire.vendor_data2(),
        }
        for filename, document in documents.items():
            (latest / filename).write_bytes(wire.dump(document))
        if user_data is not None:
            (latest / wire.USER_DATA).write_bytes(user_data)
        tmp = dest.with_name(dest.name + ".part")
        # The drive holds the user data (often secrets): readable by root (QEMU runs as root
        # here) and nobody else, from its first byte: genisoimage writes into this file.
        tmp.unlink(missing_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        # -J Joliet and -r Rock Ridge (with world-readable modes) keep the long lower-case
        # names cloud-init looks for; the volume label is how guests find the drive.
        cmd = [GENISOIMAGE, "-quiet", "-J", "-r", "-V", VOLUME_LABEL]
        cmd += ["-publisher", "computecloud", "-o", str(tmp), str(staging)]
        try:
            subprocess.run(  # noqa: S603 -- fixed program, arguments built here
                cmd, check=True, capture_output=True, text=True, timeout=120
            )
        except subprocess.CalledProcessError as exc:
            raise exceptions.ConfigDriveFailed(
                instance_uuid=instance.uuid, reason=exc.stderr.strip() or str(exc)
            ) from exc
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise exceptions.ConfigDriveFailed(
                instance_uuid=instance.uuid, reason=str(exc)
            ) from exc
        tmp.chmod(0o600)
        tmp.replace(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest

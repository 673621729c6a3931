"""OpenStack config drives: an ISO 9660 image labelled ``config-2`` that cloud-init reads.

Contents (the openstack/latest flavour of Nova's metadata; cloud-init and tinyos read it)::

    openstack/latest/meta_data.json     uuid, name, hostname, launch_index,
                                        availability_zone, project_id, public_keys, keys,
                                        meta, devices
    openstack/latest/user_data          the decoded user data (only when given)
    openstack/latest/network_data.json  links, networks, services from the instance's VIFs
    openstack/latest/vendor_data.json   {}
    openstack/latest/vendor_data2.json  {}

Owns the file layout and the genisoimage call; which instances get a drive is the driver's
decision.
"""

import base64
import binascii
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from workers.virt import exceptions
from workers.virt.driver import InstanceSpec, VifSpec

GENISOIMAGE = "genisoimage"
VOLUME_LABEL = "config-2"


def meta_data(instance: InstanceSpec) -> dict[str, Any]:
    """The meta_data.json document of ``instance`` (Nova's field names)."""
    return {
        "uuid": instance.uuid,
        "name": instance.name,
        "hostname": instance.hostname,
        "launch_index": instance.launch_index,
        "availability_zone": instance.availability_zone,
        "project_id": instance.project_id,
        "public_keys": dict(instance.public_keys),
        "keys": [
            {"name": name, "type": "ssh", "data": key}
            for name, key in sorted(instance.public_keys.items())
        ],
        "meta": dict(instance.metadata),
        "devices": [],
    }


def network_data(vifs: list[VifSpec]) -> dict[str, Any]:
    """The network_data.json document: one link per VIF, one network per fixed IP (or DHCP)."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for index, vif in enumerate(vifs):
        link_id = f"tap{vif.id[:11]}"
        links.append(
            {
                "id": link_id,
                "type": "bridge",
                "ethernet_mac_address": vif.mac,
                "mtu": vif.mtu,
                "vif_id": vif.id,
            }
        )
        network: dict[str, Any] = {
            "id": f"network{index}",
            "link": link_id,
            "network_id": vif.network_id,
        }
        if vif.ip_address and vif.cidr:
            subnet = ipaddress.ip_network(vif.cidr, strict=False)
            # The default route: network and netmask both all-zero ("0.0.0.0" or "::").
            anywhere = str(
                ipaddress.IPv4Address(0) if subnet.version == 4 else ipaddress.IPv6Address(0)
            )
            network.update(
                type="ipv4" if subnet.version == 4 else "ipv6",
                ip_address=vif.ip_address,
                netmask=str(subnet.netmask),
                routes=(
                    [
                        {
                            "network": anywhere,
                            "netmask": anywhere,
                            "gateway": vif.gateway,
                        }
                    ]
                    if vif.gateway
                    else []
                ),
                services=[{"type": "dns", "address": d} for d in vif.dns],
            )
        else:
            network["type"] = "ipv4_dhcp"
        networks.append(network)
        for address in vif.dns:
            service = {"type": "dns", "address": address}
            if service not in services:
                services.append(service)
    return {"links": links, "networks": networks, "services": services}


def decode_user_data(instance: InstanceSpec) -> bytes | None:
    """The user data as bytes; ConfigDriveFailed if it is not valid base64."""
    if instance.user_data is None:
        return None
    try:
        return base64.b64decode(instance.user_data, validate=True)
    except (binascii.Error, ValueError) as exc:
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
            "meta_data.json": meta_data(instance),
            "network_data.json": network_data(vifs),
            "vendor_data.json": {},
            "vendor_data2.json": {},
        }
        for filename, document in documents.items():
            (latest / filename).write_text(json.dumps(document))
        if user_data is not None:
            (latest / "user_data").write_bytes(user_data)
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

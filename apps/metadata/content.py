"""What the metadata service answers for one instance: Nova's OpenStack and EC2 documents.

Pure functions of the instance payload the conductor sends to compute hosts
(`apps.conductor.payloads.instance_payload`, the shape ``workers.virt.driver.InstanceSpec``
reads) plus a few EC2 facts: no Django, no database, no request. The config drive is written
on the compute host from the same payload by ``workers/virt/libvirt/configdrive.py``; the
control plane may not import the virt layer (import-linter), so the OpenStack documents are
built here again in the same shape, and tests/metadata/test_content.py holds the two to
byte-for-byte equality for ``openstack/latest``.

Layout (Nova's ``nova/api/metadata/base.py``)::

    /                                   EC2 versions, then "latest"
    /openstack                          OpenStack versions, then "latest"
    /openstack/<version>                the files of that version
    /openstack/<version>/meta_data.json, user_data, vendor_data.json (2013-10-17+),
                        network_data.json (2015-10-15+), vendor_data2.json (2016-10-06+)
    /[ec2/]<version>                    "meta-data/" and, when given, "user-data"
    /[ec2/]<version>/meta-data/...      instance-id, hostname, public-keys/0/openssh-key, ...

Listings are newline-separated, sorted, directories with a trailing "/"; ``public-keys``
lists ``0=<key name>`` (EC2's quirk). ``latest`` is the newest version of each flavour.
Not served: ``password`` (no server password support) and ``content/`` (no injected files).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.metadata.exceptions import MetadataNotFound

EC2_VERSIONS = (
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
)

FOLSOM = "2012-08-10"
GRIZZLY = "2013-04-04"
HAVANA = "2013-10-17"
LIBERTY = "2015-10-15"
NEWTON_ONE = "2016-06-30"
NEWTON_TWO = "2016-10-06"
OCATA = "2017-02-22"
ROCKY = "2018-08-27"
OPENSTACK_VERSIONS = (FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY)
LATEST = "latest"

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"

MD_JSON = "meta_data.json"
USER_DATA = "user_data"
VD_JSON = "vendor_data.json"
VD2_JSON = "vendor_data2.json"
NW_JSON = "network_data.json"

# Guest device name prefix per hw_disk_bus, as the libvirt driver names disks; the root disk
# is always the first name on its bus.
_DISK_BUS_PREFIX = {"virtio": "vd", "ide": "hd", "scsi": "sd", "sata": "sd", "usb": "sd"}


@dataclass(frozen=True)
class InstanceFacts:
    """Everything the documents are built from.

    ``payload`` is `instance_payload(server)` (JSON). The rest is what only the EC2 tree
    shows: the instance's integer id (``i-%08x``), its reservation, and its IPv4 addresses
    (fixed, else the address the request came from; floating) when known.
    """

    payload: Mapping[str, Any]
    ec2_id: int
    reservation_id: str
    local_ipv4: str | None = None
    public_ipv4: str | None = None


@dataclass(frozen=True)
class Document:
    """One response body and its content type."""

    body: bytes
    content_type: str


# --- the OpenStack documents (the config drive's openstack/latest) ----------------------------


def meta_data(payload: Mapping[str, Any]) -> dict[str, Any]:
    """meta_data.json of the newest version: the config drive's document, field for field."""
    public_keys: Mapping[str, str] = payload.get("public_keys") or {}
    return {
        "uuid": payload["uuid"],
        "name": payload["name"],
        "hostname": payload["hostname"],
        "launch_index": payload.get("launch_index", 0),
        "availability_zone": payload.get("availability_zone"),
        "project_id": payload.get("project_id", ""),
        "public_keys": dict(public_keys),
        "keys": [
            {"name": name, "type": "ssh", "data": key} for name, key in sorted(public_keys.items())
        ],
        "meta": dict(payload.get("metadata") or {}),
        "devices": [],
    }


def network_data(network_info: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """network_data.json: one link per VIF, one network per fixed IP (or DHCP), DNS services."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for index, vif in enumerate(network_info):
        link_id = f"tap{vif['id'][:11]}"
        links.append(
            {
                "id": link_id,
                "type": "bridge",
                "ethernet_mac_address": vif["mac"],
                "mtu": vif.get("mtu"),
                "vif_id": vif["id"],
            }
        )
        network: dict[str, Any] = {
            "id": f"network{index}",
            "link": link_id,
            "network_id": vif.get("network_id", ""),
        }
        dns = list(vif.get("dns") or [])
        if vif.get("ip_address") and vif.get("cidr"):
            subnet = ipaddress.ip_network(vif["cidr"], strict=False)
            # The default route: network and netmask both all-zero ("0.0.0.0" or "::").
            anywhere = str(
                ipaddress.IPv4Address(0) if subnet.version == 4 else ipaddress.IPv6Address(0)
            )
            gateway = vif.get("gateway")
            network.update(
                type=f"ipv{subnet.version}",
                ip_address=vif["ip_address"],
                netmask=str(subnet.netmask),
                routes=(
                    [{"network": anywhere, "netmask": anywhere, "gateway": gateway}]
                    if gateway
                    else []
                ),
                services=[{"type": "dns", "address": d} for d in dns],
            )
        else:
            network["type"] = "ipv4_dhcp"
        networks.append(network)
        for address in dns:
            service = {"type": "dns", "address": address}
            if service not in services:
                services.append(service)
    return {"links": links, "networks": networks, "services": services}


def vendor_data() -> dict[str, Any]:
    """vendor_data.json: no vendor data providers are configured."""
    return {}


def vendor_data2() -> dict[str, Any]:
    """vendor_data2.json: no dynamic vendor data providers are configured."""
    return {}


def user_data(payload: Mapping[str, Any]) -> bytes | None:
    """The decoded user data, or None when none was given (or it is not base64, which the
    API refuses at create; such a row serves no user data rather than garbage)."""
    encoded = payload.get("user_data")
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None


def dump(document: Mapping[str, Any]) -> bytes:
    """A JSON document as the config drive writes it (json.dumps' default separators)."""
    return json.dumps(document).encode()


def openstack_files(payload: Mapping[str, Any], version: str) -> dict[str, Document]:
    """The files of one OpenStack metadata version (``latest`` or a dated one), by name."""
    rank = _rank(version, OPENSTACK_VERSIONS)
    meta = meta_data(payload)
    if rank < OPENSTACK_VERSIONS.index(LIBERTY):
        del meta["project_id"]
    if rank < OPENSTACK_VERSIONS.index(NEWTON_ONE):
        del meta["devices"]
    files = {MD_JSON: Document(dump(meta), JSON)}
    data = user_data(payload)
    if data is not None:
        files[USER_DATA] = Document(data, TEXT)
    if rank >= OPENSTACK_VERSIONS.index(HAVANA):
        files[VD_JSON] = Document(dump(vendor_data()), JSON)
    if rank >= OPENSTACK_VERSIONS.index(LIBERTY):
        files[NW_JSON] = Document(dump(network_data(payload.get("network_info") or [])), JSON)
    if rank >= OPENSTACK_VERSIONS.index(NEWTON_TWO):
        files[VD2_JSON] = Document(dump(vendor_data2()), JSON)
    return files


# --- the EC2 tree -----------------------------------------------------------------------------


def ec2_tree(facts: InstanceFacts, version: str) -> dict[str, Any]:
    """The EC2 tree of one version: {"meta-data": {...}, "user-data": bytes (when given)}.

    A dict is a directory; a dict holding ``_name`` is listed by that name (public-keys).
    """
    rank = _rank(version, EC2_VERSIONS)
    payload = facts.payload
    hostname = payload["hostname"]
    meta: dict[str, Any] = {
        "ami-launch-index": payload.get("launch_index", 0),
        "hostname": hostname,
        "instance-id": f"i-{facts.ec2_id:08x}",
        "reservation-id": facts.reservation_id,
    }
    if payload.get("image_id"):
        # Nova maps image UUIDs to small integers; the UUID's first 32 bits serve the same
        # purpose (a stable ami-%08x per image) without a mapping table.
        meta["ami-id"] = f"ami-{str(payload['image_id']).replace('-', '')[:8]}"
    if facts.local_ipv4:
        meta["local-ipv4"] = facts.local_ipv4
    keys = sorted((payload.get("public_keys") or {}).items())
    if keys:
        meta["public-keys"] = {
            str(index): {"_name": f"{index}={name}", "openssh-key": key}
            for index, (name, key) in enumerate(keys)
        }
    if rank >= EC2_VERSIONS.index("2007-01-19"):
        meta["local-hostname"] = hostname
        meta["public-hostname"] = hostname
        if facts.public_ipv4:
            meta["public-ipv4"] = facts.public_ipv4
    if rank >= EC2_VERSIONS.index("2007-08-29") and payload.get("flavor_name"):
        meta["instance-type"] = payload["flavor_name"]
    if rank >= EC2_VERSIONS.index("2007-12-15"):
        properties = (payload.get("image_meta") or {}).get("properties") or {}
        prefix = _DISK_BUS_PREFIX.get(properties.get("hw_disk_bus") or "virtio", "vd")
        meta["block-device-mapping"] = {"ami": f"{prefix}a", "root": f"/dev/{prefix}a"}
    if rank >= EC2_VERSIONS.index("2008-02-01"):
        meta["placement"] = {"availability-zone": payload.get("availability_zone") or ""}
    if rank >= EC2_VERSIONS.index("2008-09-01"):
        meta["instance-action"] = "none"
    tree: dict[str, Any] = {"meta-data": meta}
    data = user_data(payload)
    if data is not None:
        tree["user-data"] = data
    return tree


def ec2_listing(node: Any) -> bytes:
    """How EC2 prints a node: a directory's sorted entries (subdirectories with "/", or by
    their ``_name``), one per line; a list one item per line; a value as it is."""
    if isinstance(node, dict):
        lines = []
        for key in sorted(node):
            if key == "_name":
                continue
            child = node[key]
            if isinstance(child, dict):
                lines.append(str(child["_name"]) if "_name" in child else f"{key}/")
            else:
                lines.append(key)
        return "\n".join(lines).encode()
    if isinstance(node, list):
        return "\n".join(str(item) for item in node).encode()
    if isinstance(node, bytes):
        return node
    return str(node).encode()


# --- lookup -----------------------------------------------------------------------------------


def version_index() -> Document:
    """What ``/`` answers (to anyone: it says nothing about instances)."""
    return Document(ec2_listing([*EC2_VERSIONS, LATEST]), TEXT)


def path_tokens(path: str) -> list[str]:
    """A request path as tokens, normalised as Nova does ("/a//b/../c/" → ["a", "c"])."""
    return [token for token in posixpath.normpath("/" + path).split("/") if token]


def lookup(facts: InstanceFacts, path: str) -> Document:
    """The document at ``path`` for this instance; MetadataNotFound if there is none."""
    tokens = path_tokens(path)
    if tokens and tokens[0] == "openstack":
        return _openstack(facts, tokens[1:])
    if tokens and tokens[0] == "ec2":
        tokens = tokens[1:]
    if not tokens:
        return version_index()
    return _ec2(facts, tokens)


def _openstack(facts: InstanceFacts, tokens: list[str]) -> Document:
    if not tokens:
        return Document(ec2_listing([*OPENSTACK_VERSIONS, LATEST]), TEXT)
    version = tokens[0]
    if version != LATEST and version not in OPENSTACK_VERSIONS:
        raise MetadataNotFound()
    files = openstack_files(facts.payload, version)
    if len(tokens) == 1:
        return Document(ec2_listing(list(files)), TEXT)
    if len(tokens) > 2 or tokens[1] not in files:
        raise MetadataNotFound()
    return files[tokens[1]]


def _ec2(facts: InstanceFacts, tokens: list[str]) -> Document:
    version = tokens[0]
    if version != LATEST and version not in EC2_VERSIONS:
        raise MetadataNotFound()
    node: Any = ec2_tree(facts, version)
    for name in tokens[1:]:
        if not isinstance(node, dict) or name not in node or name == "_name":
            raise MetadataNotFound()
        node = node[name]
    return Document(ec2_listing(node), TEXT)


def _rank(version: str, versions: tuple[str, ...]) -> int:
    """The position of ``version`` in ``versions`` ("latest" is the last)."""
    if version == LATEST:
        return len(versions) - 1
    try:
        return versions.index(version)
    except ValueError:
        raise MetadataNotFound() from None

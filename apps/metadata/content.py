"""What the metadata service answers for one instance: Nova's OpenStack and EC2 documents.

Pure functions of the instance payload the conductor sends to compute hosts
(`apps.conductor.payloads.instance_payload`, a `computecloud.wire.InstancePayload`) plus a few
EC2 facts: no Django, no database, no request. The OpenStack documents are
`computecloud.wire`'s, the same the config drive holds (workers/virt/libvirt/configdrive.py);
this module adds what only the service serves: the dated versions (older ones leave fields
out) and the EC2 tree. tests/metadata/test_content.py holds the service's ``openstack/latest``
to the files of a real config drive, byte for byte.

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

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.metadata.exceptions import MetadataNotFound
from computecloud.wire import (
    MD_JSON,
    NW_JSON,
    USER_DATA,
    VD2_JSON,
    VD_JSON,
    decode_user_data,
    dump,
    meta_data,
    network_data,
    vendor_data,
    vendor_data2,
)

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


# --- the OpenStack documents (computecloud.wire's; the config drive's openstack/latest) -------


def user_data(payload: Mapping[str, Any]) -> bytes | None:
    """The decoded user data, or None when none was given (or it is not base64, which the
    API refuses at create; such a row serves no user data rather than garbage)."""
    try:
        return decode_user_data(payload.get("user_data"))
    except ValueError:
        return None


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
        mapping = {"ami": f"{prefix}a", "root": f"/dev/{prefix}a"}
        # The server's volumes other than its root, as EC2 names EBS volumes.
        extra = [
            device
            for device in payload.get("block_devices") or []
            if device.get("boot_index") != 0 and device.get("device_name")
        ]
        for index, device in enumerate(extra):
            mapping[f"ebs{index}"] = f"/dev/{device['device_name']}"
        meta["block-device-mapping"] = mapping
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

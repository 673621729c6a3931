"""The wire format of an instance: what a compute host is sent to build it, and the metadata
documents its guest reads. Defined once, here, for both sides of the bus.

- The build payload (`BuildPayload` and its parts): written by the conductor
  (apps/conductor/payloads.py), read on the compute host (``InstanceSpec.from_payload`` and
  ``ImageSource.from_payload`` in workers/virt/driver.py). JSON only: the host has no database
  (docs/decisions/0002-compute-without-database.md). Readers ignore keys they do not know, so
  a control plane one release ahead may add keys.
- The OpenStack metadata documents of one instance (``meta_data.json``,
  ``network_data.json``, ``vendor_data.json``, ``vendor_data2.json``, ``user_data``), each a
  function of its `InstancePayload`. The metadata service (apps/metadata/content.py, which
  adds the dated versions and the EC2 tree, served by it alone) and the config drive
  (workers/virt/libvirt/configdrive.py, ``openstack/latest``) both serve them from here, so a
  guest reads the same bytes either way (tests/metadata/test_content.py).

The standard library only: the virt layer imports this module and nothing else of
computecloud (import-linter contracts "the virt layer is plain libvirt" and "the wire format
is plain", and tests/test_wire.py). No decisions about which instances get what: callers
decide; this module says what the bytes are.
"""

import base64
import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

# --- the build payload ------------------------------------------------------------------------


class VifPayload(TypedDict):
    """One virtual NIC (a port on a Linux bridge); the fixed IP, when the network gave one.

    ``id`` is the port's id; the host names the guest's tap ``tap`` + ``id[:11]``
    (`tap_name`). ``ip_address``/``cidr``/``gateway``/``dns`` are the port's first fixed IP,
    written into the guest's network_data.json."""

    id: str
    mac: str
    bridge: str
    network_id: NotRequired[str]
    network_name: NotRequired[str]
    ip_address: NotRequired[str | None]
    cidr: NotRequired[str | None]
    gateway: NotRequired[str | None]
    dns: NotRequired[list[str]]
    mtu: NotRequired[int | None]
    model: NotRequired[str | None]


# --- a host's networks: what its network agent builds in the kernel --------------------------


class SubnetPayload(TypedDict):
    """A subnet as the host serves it: the network namespace holds ``gateway_ip`` and
    dnsmasq serves the ports' fixed addresses from it when ``enable_dhcp``."""

    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: list[str]
    host_routes: list[dict[str, str]]  # {"destination": cidr, "nexthop": ip}


class NetworkPayload(TypedDict):
    """One network on a host: a Linux bridge (``bridge``), for "vxlan" a kernel vxlan device
    with VNI ``segmentation_id`` enslaved to it, for "flat" an existing host bridge that the
    operator mapped to ``physical_network``. ``remote_vteps`` are the tunnel addresses of the
    other hosts with ports on the network (forwarding entries; no multicast)."""

    id: str
    name: str
    project_id: str
    network_type: str  # "vxlan" | "flat"
    segmentation_id: int | None
    physical_network: str | None
    bridge: str
    mtu: int
    subnets: list[SubnetPayload]
    remote_vteps: list[str]


class FixedIpPayload(TypedDict):
    subnet_id: str
    ip_address: str


class SecurityRulePayload(TypedDict):
    """One allow rule of a port's security groups, remote groups already resolved by the
    control plane to their members' addresses (``remote_ip_prefixes``; absent: anywhere)."""

    direction: str  # "ingress" | "egress"
    ethertype: str  # "IPv4" | "IPv6"
    protocol: str | None  # "tcp", "udp", "icmp", "icmpv6" or an IP protocol number; None: any
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefixes: list[str] | None


class PortPayload(TypedDict):
    """A guest's port on a host: its tap, addresses, and the filter the host enforces on it.
    ``security_rules`` None means port security is off (no filter, no anti-spoofing)."""

    id: str
    network_id: str
    mac_address: str
    fixed_ips: list[FixedIpPayload]
    device_id: str  # the instance uuid
    project_id: str
    hostname: str
    security_rules: list[SecurityRulePayload] | None


class RouterInterfacePayload(TypedDict):
    network_id: str
    subnet_id: str
    cidr: str


class FloatingIpPayload(TypedDict):
    floating_ip_address: str
    fixed_ip_address: str


class RouterPayload(TypedDict):
    """A router: a namespace joined to its subnets' network namespaces and, with an
    external gateway, to the external network's bridge, where it SNATs the subnets and
    DNATs its floating IPs."""

    id: str
    project_id: str
    interfaces: list[RouterInterfacePayload]
    external_network_id: str | None
    external_bridge: str | None
    external_address: str | None  # "203.0.113.5/24"
    external_gateway: str | None
    enable_snat: bool
    floating_ips: list[FloatingIpPayload]


class HostNetworksPayload(TypedDict):
    """Everything one host's network agent must build, whole: it makes the kernel match this
    and removes what the project made that is not in it (at start, after a change)."""

    networks: list[NetworkPayload]
    ports: list[PortPayload]
    routers: list[RouterPayload]
    # When the control plane read it (its database's clock, seconds since the epoch, taken
    # before the reads): a host applies a state only if it is newer than the last it applied,
    # so a late message never undoes a newer one.
    generation: NotRequired[float]


def tap_name(port_id: str) -> str:
    """The host device of a guest's port (15 characters at most, as the kernel wants)."""
    return f"tap{port_id[:11]}"


class BlockDevicePayload(TypedDict):
    """A volume to give a guest. The control plane names it (`volume_id`, the `backend` of the
    pool it lives in); the host's storage agent finds it there and fills `path`, `source_type`
    and `disk_format`. `boot_index` 0 makes it the guest's root disk (boot from volume)."""

    volume_id: str
    backend: NotRequired[str]  # "file" or "lvm" (apps.volumes.choices.BackendKind)
    path: NotRequired[str]
    device_name: NotRequired[str | None]  # e.g. "vdb"; None: the next free name on the bus
    disk_bus: NotRequired[str]
    disk_format: NotRequired[str]
    source_type: NotRequired[str]  # "file" or "block"
    read_only: NotRequired[bool]
    boot_index: NotRequired[int | None]
    tag: NotRequired[str | None]  # the user's device tag (meta_data.json's "devices")


class StoragePoolPayload(TypedDict):
    """A host's volume store as its worker reports it (with every heartbeat)."""

    backend: str  # "file" or "lvm"
    shared: bool  # every host sees the same volumes (a shared directory): attach anywhere
    total_gb: int
    free_gb: int


class InstancePayload(TypedDict):
    """Everything a host needs to build one guest. Sizes are the flavor's (MiB, GiB);
    ``user_data`` is base64 as the API received it; ``public_keys`` maps key name to key."""

    uuid: str
    name: str
    hostname: str
    memory_mb: int
    vcpus: int
    root_gb: int
    ephemeral_gb: NotRequired[int]
    swap_mb: NotRequired[int]
    flavor_name: NotRequired[str]
    extra_specs: NotRequired[dict[str, str]]
    image_id: NotRequired[str | None]
    image_meta: NotRequired[dict[str, Any]]
    metadata: NotRequired[dict[str, str]]
    user_data: NotRequired[str | None]
    public_keys: NotRequired[dict[str, str]]
    config_drive: NotRequired[bool]
    availability_zone: NotRequired[str | None]
    project_id: NotRequired[str]
    user_id: NotRequired[str]
    launch_index: NotRequired[int]
    network_info: NotRequired[list[VifPayload]]
    block_devices: NotRequired[list[BlockDevicePayload]]


class ImagePayload(TypedDict):
    """Where a host downloads an image (a signed URL: it has no token) and how it checks what
    it got (Glance's md5 ``checksum`` and its multihash)."""

    image_id: str
    url: str
    checksum: NotRequired[str | None]
    os_hash_algo: NotRequired[str | None]
    os_hash_value: NotRequired[str | None]
    size: NotRequired[int | None]
    disk_format: NotRequired[str]
    container_format: NotRequired[str]


class AlternatePayload(TypedDict):
    """A host that also passed the filters: where the conductor tries next if the build fails.
    Opaque to the compute host, which hands the list back with its failure."""

    host: str
    node: str
    provider_uuid: str
    allocation: dict[str, int]
    availability_zone: str


class BuildPayload(TypedDict):
    """The one argument of a build (``to_compute.BUILD_SERVER``)."""

    instance: InstancePayload
    image: ImagePayload
    request_id: str
    alternates: list[AlternatePayload]
    # The instance's networks and ports, for the host's network agent to plug before the
    # guest starts (absent: the instance has no ports).
    networks: NotRequired[HostNetworksPayload]
    # Volumes this build creates first on the host (boot from an image onto a volume, blank
    # volumes), in the pool named by each; the instance's block_devices then name them.
    volumes_to_create: NotRequired[list["VolumeCreatePayload"]]


class VolumeCreatePayload(TypedDict):
    """Make volume `volume_id` of `size_gb` GiB in the host's pool `backend`: blank, or
    written from an image (downloaded by the host like a base image), a snapshot or another
    volume of the same pool."""

    volume_id: str
    size_gb: int
    backend: str
    request_id: str
    image: NotRequired[ImagePayload | None]
    snapshot_id: NotRequired[str | None]
    source_volume_id: NotRequired[str | None]


# --- the metadata documents -------------------------------------------------------------------

MD_JSON = "meta_data.json"
USER_DATA = "user_data"
VD_JSON = "vendor_data.json"
VD2_JSON = "vendor_data2.json"
NW_JSON = "network_data.json"


def meta_data(instance: Mapping[str, Any]) -> dict[str, Any]:
    """meta_data.json of the newest version (Nova's field names) for an `InstancePayload`."""
    public_keys: Mapping[str, str] = instance.get("public_keys") or {}
    return {
        "uuid": instance["uuid"],
        "name": instance["name"],
        "hostname": instance["hostname"],
        "launch_index": instance.get("launch_index", 0),
        "availability_zone": instance.get("availability_zone"),
        "project_id": instance.get("project_id", ""),
        "public_keys": dict(public_keys),
        "keys": [
            {"name": name, "type": "ssh", "data": key} for name, key in sorted(public_keys.items())
        ],
        "meta": dict(instance.get("metadata") or {}),
        "devices": [
            {
                "type": "disk",
                "bus": device.get("disk_bus") or "virtio",
                "serial": device["volume_id"],
                "path": f"/dev/{device['device_name']}" if device.get("device_name") else None,
                "tags": [device["tag"]],
            }
            for device in instance.get("block_devices") or []
            if device.get("tag")
        ],
    }


def network_data(network_info: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """network_data.json: one link per VIF, one network per fixed IP (or DHCP), DNS services."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for index, vif in enumerate(network_info):
        link_id = tap_name(vif["id"])
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


def decode_user_data(encoded: str | None) -> bytes | None:
    """The user data as the guest reads it, None when none was given; ValueError when it is
    not base64 (the API refuses that at create; what to do with an old row is the caller's
    choice: the config drive fails the build, the metadata service serves none)."""
    if encoded is None:
        return None
    return base64.b64decode(encoded, validate=True)  # binascii.Error is a ValueError


def dump(document: Mapping[str, Any]) -> bytes:
    """A JSON document's bytes, as both the service and the config drive serve it
    (json.dumps' defaults: ASCII with escapes, ", " and ": " separators)."""
    return json.dumps(document).encode()

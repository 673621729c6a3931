"""A network's plumbing on the host: its bridge, its vxlan device and forwarding entries, its
namespace and the veth that joins them, the namespace's addresses. Each step looks before it
changes anything, so a second pass over an unchanged network runs no command that writes.
"""

import ipaddress
import logging
from typing import Any

from computecloud.wire import NetworkPayload
from workers.network.dhcp import service_address
from workers.network.exceptions import NetworkAgentError
from workers.network.kernel import Kernel
from workers.network.names import METADATA_IP, Names, bridge_mac, gateway_mac

logger = logging.getLogger(__name__)

VXLAN_PORT = 4789


def _info(link: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = link.get("linkinfo", {}).get("info_data", {})
    return info


def _kind(link: dict[str, Any]) -> str | None:
    kind: str | None = link.get("linkinfo", {}).get("info_kind")
    return kind


def _is_up(link: dict[str, Any]) -> bool:
    return "UP" in link.get("flags", [])


def namespace_addresses(network: NetworkPayload) -> set[str]:
    """What the network's namespace holds on its veth: an address on each subnet (the
    gateway, or the DHCP server's when there is none) and the metadata address."""
    wanted = {f"{METADATA_IP}/32"}
    for subnet in network["subnets"]:
        cidr = ipaddress.ip_network(subnet["cidr"], strict=False)
        address = service_address(subnet) if cidr.version == 4 else subnet["gateway_ip"]
        if address:
            wanted.add(f"{address}/{cidr.prefixlen}")
    return wanted


class NetworkPlumbing:
    def __init__(self, kernel: Kernel, names: Names, tunnel_ip: str | None) -> None:
        self.kernel = kernel
        self.names = names
        self.tunnel_ip = tunnel_ip

    # --- the bridge ----------------------------------------------------------------------------

    def ensure_bridge(self, network: NetworkPayload, links: dict[str, dict[str, Any]]) -> None:
        name, nid = network["bridge"], network["id"]
        link = links.get(name)
        if network["network_type"] == "flat":
            if link is None or _kind(link) != "bridge":
                raise NetworkAgentError(
                    f"network {nid}: the host bridge {name} of physical network "
                    f"{network['physical_network']} does not exist"
                )
        elif link is None:
            self.kernel.ip("link", "add", name, "type", "bridge")
            logger.info("network %s: bridge %s created", nid, name)
            link = {}
        elif _kind(link) != "bridge":
            raise NetworkAgentError(f"network {nid}: {name} exists and is not a bridge")
        info = _info(link)
        # Bridged IP traffic must pass the inet hooks for the ports' security groups (the
        # bridge family has no conntrack on this kernel): set per bridge, whatever the host's
        # global bridge-nf-call-* say.
        if info.get("nf_call_iptables") != 1 or info.get("nf_call_ip6tables") != 1:
            self.kernel.ip(
                "link", "set", name, "type", "bridge", "nf_call_iptables", "1",
                "nf_call_ip6tables", "1",
            )  # fmt: skip
        if network["network_type"] == "flat":
            return  # the operator's bridge: nothing else of it is ours to change
        mac = bridge_mac(nid)
        alias = self.names.bridge_alias(nid)
        if link.get("address") != mac:
            self.kernel.ip("link", "set", name, "address", mac)
        if link.get("ifalias") != alias:
            self.kernel.ip("link", "set", name, "alias", alias)
        if link.get("mtu") != network["mtu"]:
            self.kernel.ip("link", "set", name, "mtu", str(network["mtu"]))
        if not _is_up(link):
            self.kernel.ip("link", "set", name, "up")

    # --- vxlan ---------------------------------------------------------------------------------

    def ensure_vxlan(self, network: NetworkPayload, links: dict[str, dict[str, Any]]) -> None:
        nid = network["id"]
        name = self.names.vxlan(nid)
        if not self.tunnel_ip:
            # A host without a tunnel address (TUNNEL_IP unset: a single-host cloud) keeps
            # each network on its own bridge; joining other hosts needs the address.
            if network["remote_vteps"]:
                logger.warning(
                    "network %s: %d other hosts have ports on it, but this host has no "
                    "TUNNEL_IP: its guests cannot reach theirs",
                    nid,
                    len(network["remote_vteps"]),
                )
            if name in links:
                self.kernel.ip("link", "del", name)
            return
        vni = network["segmentation_id"]
        if vni is None:
            raise NetworkAgentError(f"network {nid}: vxlan without a segmentation id")
        link = links.get(name)
        info = _info(link) if link else {}
        if link is not None and (
            info.get("id") != vni
            or info.get("local") != self.tunnel_ip
            or info.get("port") != VXLAN_PORT
            or info.get("learning", False)
        ):
            self.kernel.ip("link", "del", name)
            logger.info("network %s: vxlan %s removed to be made anew", nid, name)
            link = None
        if link is None:
            self.kernel.ip(
                "link", "add", name, "type", "vxlan", "id", str(vni), "local", self.tunnel_ip,
                "dstport", str(VXLAN_PORT), "nolearning",
            )  # fmt: skip
            logger.info("network %s: vxlan %s (VNI %s) created", nid, name, vni)
            link = {}
        self._enslave(name, link, network["bridge"], network["mtu"])
        actual = self.kernel.fdb_remotes(name)
        wanted = set(network["remote_vteps"])
        for remote in sorted(wanted - actual):
            self.kernel.run(
                ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", name, "dst", remote]
            )
            logger.info("network %s: tunnel to %s added", nid, remote)
        for remote in sorted(actual - wanted):
            self.kernel.run(
                ["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", name, "dst", remote]
            )
            logger.info("network %s: tunnel to %s removed", nid, remote)

    def _enslave(self, name: str, link: dict[str, Any], bridge: str, mtu: int) -> None:
        if link.get("mtu") != mtu:
            self.kernel.ip("link", "set", name, "mtu", str(mtu))
        if link.get("master") != bridge:
            self.kernel.ip("link", "set", name, "master", bridge)
        if not _is_up(link):
            self.kernel.ip("link", "set", name, "up")

    # --- the namespace -------------------------------------------------------------------------

    def ensure_namespace(
        self, network: NetworkPayload, links: dict[str, dict[str, Any]], namespaces: set[str]
    ) -> None:
        nid = network["id"]
        ns = self.names.network_ns(nid)
        outer, inner = self.names.net_bridge_end(nid), self.names.net_ns_end(nid)
        if ns not in namespaces:
            self.kernel.add_namespace(ns)
            self.kernel.ip("link", "set", "lo", "up", netns=ns)
            # The namespace routes between its subnets and the router's link.
            self.kernel.sysctl("net.ipv4.ip_forward", "1", netns=ns)
            namespaces.add(ns)
            logger.info("network %s: namespace %s created", nid, ns)
        inside = self.kernel.links(netns=ns)
        if outer not in links or inner not in inside:
            for name, where in ((outer, None), (inner, ns)):
                if name in (inside if where else links):
                    self.kernel.ip("link", "del", name, netns=where)
            self.kernel.ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
            logger.info("network %s: veth %s (bridge) / %s (namespace) created", nid, outer, inner)
            inside = self.kernel.links(netns=ns)
            links[outer] = {}
        self._enslave(outer, links[outer], network["bridge"], network["mtu"])
        link = inside[inner]
        mac = gateway_mac(nid)
        if link.get("address") != mac:
            self.kernel.ip("link", "set", inner, "address", mac, netns=ns)
        if link.get("mtu") != network["mtu"]:
            self.kernel.ip("link", "set", inner, "mtu", str(network["mtu"]), netns=ns)
        if not _is_up(link):
            self.kernel.ip("link", "set", inner, "up", netns=ns)
        actual = self.kernel.addresses(inner, netns=ns)
        wanted = namespace_addresses(network)
        for address in sorted(wanted - actual):
            self.kernel.ip("addr", "add", address, "dev", inner, netns=ns)
            logger.info("network %s: %s added in %s", nid, address, ns)
        for address in sorted(actual - wanted):
            self.kernel.ip("addr", "del", address, "dev", inner, netns=ns)
            logger.info("network %s: %s removed from %s", nid, address, ns)

"""Every name the agent gives in the kernel, and how it recognises its own.

Interface names stay within IFNAMSIZ (15 characters): a prefix of at most 4, a kind of at
most 3, 8 hex digits of the object's id. A name is the agent's when it is exactly
``<prefix><kind><id8>`` for one of the kinds below; bridges, whose names the control plane
chooses, carry the agent's mark in their alias instead (`bridge_alias`).
"""

import hashlib
import re

# Kinds of names (after the prefix).
NETWORK_NS = "net-"  # a network's namespace
ROUTER_NS = "rtr-"  # a router's namespace
VXLAN = "vx-"  # a network's vxlan device (host)
NET_BRIDGE_END = "nb-"  # the network namespace's veth, bridge end (host, on the bridge)
NET_NS_END = "ns-"  # the same veth, namespace end (network namespace: gateways, dnsmasq)
NET_ROUTER_END = "nr-"  # link to a router (network namespace), id8 of the router
ROUTER_NET_END = "rn-"  # link to a network (router namespace), id8 of the network
EXT_BRIDGE_END = "xb-"  # a router's external veth, bridge end (host, on the external bridge)
EXT_ROUTER_END = "xg-"  # the same veth, router end (router namespace: external address)

HOST_LINK_KINDS = (VXLAN, NET_BRIDGE_END, EXT_BRIDGE_END)

# Table names (nftables): the host's security groups, a network namespace's guard, a
# router's NAT.
SG_TABLE = "sg"
GUARD_TABLE = "guard"
NAT_TABLE = "nat"

# The point-to-point link between a network namespace and a router namespace: the same two
# addresses on every such link, routes name the device (onlink), so nothing has to be
# allocated and nothing can collide with a project's subnets.
ROUTER_LINK_ROUTER_IP = "169.254.0.1"
ROUTER_LINK_NETWORK_IP = "169.254.0.2"

METADATA_IP = "169.254.169.254"


def id8(object_id: str) -> str:
    return object_id.replace("-", "")[:8].lower()


class Names:
    """Names of one agent (one prefix)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._own = re.compile(
            rf"{re.escape(prefix)}(net-|rtr-|vx-|nb-|ns-|nr-|rn-|xb-|xg-)([0-9a-f]{{8}})"
        )

    def _name(self, kind: str, object_id: str) -> str:
        return f"{self.prefix}{kind}{id8(object_id)}"

    def network_ns(self, network_id: str) -> str:
        return self._name(NETWORK_NS, network_id)

    def router_ns(self, router_id: str) -> str:
        return self._name(ROUTER_NS, router_id)

    def vxlan(self, network_id: str) -> str:
        return self._name(VXLAN, network_id)

    def net_bridge_end(self, network_id: str) -> str:
        return self._name(NET_BRIDGE_END, network_id)

    def net_ns_end(self, network_id: str) -> str:
        return self._name(NET_NS_END, network_id)

    def net_router_end(self, router_id: str) -> str:
        return self._name(NET_ROUTER_END, router_id)

    def router_net_end(self, network_id: str) -> str:
        return self._name(ROUTER_NET_END, network_id)

    def ext_bridge_end(self, router_id: str) -> str:
        return self._name(EXT_BRIDGE_END, router_id)

    def ext_router_end(self, router_id: str) -> str:
        return self._name(EXT_ROUTER_END, router_id)

    def table(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def bridge_alias(self, network_id: str) -> str:
        """The mark on a bridge the agent created (the control plane names bridges)."""
        return f"{self.prefix}-agent network {network_id}"

    def owned_bridge(self, alias: str | None) -> str | None:
        """The network id of a bridge this agent created, from its alias; else None."""
        mark = f"{self.prefix}-agent network "
        if alias and alias.startswith(mark):
            return alias[len(mark) :]
        return None

    def kind_of(self, name: str) -> tuple[str, str] | None:
        """(kind, id8) when `name` is one of this agent's, else None."""
        match = self._own.fullmatch(name)
        return (match.group(1), match.group(2)) if match else None


def bridge_mac(network_id: str) -> str:
    """A fixed, locally administered unicast MAC for a network's bridge. Without one the
    bridge takes its lowest port's MAC, which changes as guests come and go."""
    digest = hashlib.sha256(network_id.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def gateway_mac(network_id: str) -> str:
    """The MAC of a network's gateway (its namespace's veth), fixed like the bridge's: the
    same on every host and after a rebuild, so guests' ARP caches stay right."""
    return bridge_mac("gateway " + network_id)


def conntrack_zone(network_id: str) -> int:
    """A network's conntrack zone (1-65000), so that two networks' equal addresses never share
    connection entries. Derived, not allocated: the same after a restart; two networks
    falling in one zone only matters if they also use the same addresses."""
    digest = hashlib.sha256(network_id.encode()).digest()
    return 1 + int.from_bytes(digest[:4], "big") % 65000

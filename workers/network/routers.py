"""A router's plumbing: its namespace, a point-to-point veth to each network it joins, its
external veth on the external bridge, its routes and its NAT.

A network's namespace holds the gateway address (for DHCP and metadata too), so the router
does not hold it a second time: the network's namespace forwards, its default route goes to
the router over their link, and the router routes each subnet back through it. Every such
link carries the same two link-local addresses (routes name the device, "onlink"), so nothing
is allocated and nothing can collide with a project's addresses.
"""

import ipaddress
import logging
from typing import Any

from computecloud.wire import NetworkPayload, RouterPayload
from workers.network.exceptions import NetworkAgentError
from workers.network.firewall import router_tables
from workers.network.kernel import Kernel
from workers.network.names import (
    GUARD_TABLE,
    NAT_TABLE,
    NET_ROUTER_END,
    ROUTER_LINK_NETWORK_IP,
    ROUTER_LINK_ROUTER_IP,
    ROUTER_NET_END,
    Names,
)

logger = logging.getLogger(__name__)

Route = tuple[str, str, str]  # destination, via, device


def _is_up(link: dict[str, Any]) -> bool:
    return "UP" in link.get("flags", [])


def gateway_router(network_id: str, routers: list[RouterPayload]) -> RouterPayload | None:
    """The router a network's namespace sends its default route to: the first (by id) of
    those with an interface on it."""
    attached = [r for r in routers if any(i["network_id"] == network_id for i in r["interfaces"])]
    return min(attached, key=lambda r: r["id"]) if attached else None


class RouterPlumbing:
    def __init__(self, kernel: Kernel, names: Names) -> None:
        self.kernel = kernel
        self.names = names

    def ensure_static_routes(self, netns: str, wanted: set[Route]) -> None:
        """The namespace's routes via a gateway are exactly `wanted` (the kernel's connected
        routes are left alone)."""
        actual: set[Route] = set()
        for route in self.kernel.routes(netns=netns):
            if "gateway" in route:
                dst = route["dst"]
                if dst != "default" and "/" not in dst:
                    dst += "/32"
                actual.add((dst, route["gateway"], route["dev"]))
        for dst, via, dev in sorted(wanted - actual):
            self.kernel.ip("route", "replace", dst, "via", via, "dev", dev, "onlink", netns=netns)
        for dst, via, dev in sorted(actual - wanted):
            self.kernel.ip("route", "del", dst, "via", via, "dev", dev, netns=netns, check=False)

    def ensure_network_side(
        self, network: NetworkPayload, routers: list[RouterPayload], namespaces: set[str]
    ) -> None:
        """In a network's namespace: the links to routers that join it, no others, and the
        default route to its gateway router."""
        nid = network["id"]
        ns = self.names.network_ns(nid)
        attached = {
            self.names.net_router_end(r["id"]): r
            for r in routers
            if any(i["network_id"] == nid for i in r["interfaces"])
        }
        for name in self.kernel.links(netns=ns):
            kind = self.names.kind_of(name)
            if kind and kind[0] == NET_ROUTER_END and name not in attached:
                self.kernel.ip("link", "del", name, netns=ns)
                logger.info("network %s: link %s to a router removed", nid, name)
        wanted: set[Route] = set()
        gateway = gateway_router(nid, routers)
        if gateway is not None and self.names.router_ns(gateway["id"]) in namespaces:
            wanted.add(("default", ROUTER_LINK_ROUTER_IP, self.names.net_router_end(gateway["id"])))
        self.ensure_static_routes(ns, wanted)

    def ensure(
        self,
        router: RouterPayload,
        networks: dict[str, NetworkPayload],
        host_links: dict[str, dict[str, Any]],
        namespaces: set[str],
    ) -> None:
        rid = router["id"]
        ns = self.names.router_ns(rid)
        if ns not in namespaces:
            self.kernel.add_namespace(ns)
            self.kernel.ip("link", "set", "lo", "up", netns=ns)
            self.kernel.sysctl("net.ipv4.ip_forward", "1", netns=ns)
            namespaces.add(ns)
            logger.info("router %s: namespace %s created", rid, ns)
        inside = self.kernel.links(netns=ns)
        routes: set[Route] = set()
        joined: set[str] = set()
        for interface in router["interfaces"]:
            network = networks.get(interface["network_id"])
            if network is None:
                logger.warning(
                    "router %s: interface on network %s skipped: the network is not on this host",
                    rid,
                    interface["network_id"],
                )
                continue
            mine = self.names.router_net_end(network["id"])
            if mine not in joined:
                joined.add(mine)
                self._ensure_link(router, network, inside)
            routes.add((str(ipaddress.ip_network(interface["cidr"], strict=False)),
                        ROUTER_LINK_NETWORK_IP, mine))  # fmt: skip
        for name in inside:
            kind = self.names.kind_of(name)
            if kind and kind[0] == ROUTER_NET_END and name not in joined:
                self.kernel.ip("link", "del", name, netns=ns)
                logger.info("router %s: link %s to a network removed", rid, name)
        external = self._ensure_external(router, host_links, ns)
        if external and router["external_gateway"]:
            routes.add(("default", router["external_gateway"], external))
        self.ensure_static_routes(ns, routes)
        snat = (
            [i["cidr"] for i in router["interfaces"] if i["network_id"] in networks]
            if router["enable_snat"]
            else []
        )
        address = router["external_address"].split("/")[0] if router["external_address"] else None
        ruleset = router_tables(
            self.names.table(NAT_TABLE),
            self.names.table(GUARD_TABLE),
            external,
            address,
            snat,
            [(f["floating_ip_address"], f["fixed_ip_address"]) for f in router["floating_ips"]],
        )
        chains = self.kernel.nft_chain_names("ip", self.names.table(NAT_TABLE), netns=ns)
        if ruleset.revision not in chains:
            self.kernel.nft_apply(ruleset.text, netns=ns)
            logger.info(
                "router %s: NAT set (%s, %d floating IPs)",
                rid,
                "SNAT" if snat and address else "no SNAT",
                len(router["floating_ips"]),
            )

    def _ensure_link(
        self, router: RouterPayload, network: NetworkPayload, inside: dict[str, dict[str, Any]]
    ) -> None:
        rid, nid = router["id"], network["id"]
        ns, net_ns = self.names.router_ns(rid), self.names.network_ns(nid)
        mine, theirs = self.names.router_net_end(nid), self.names.net_router_end(rid)
        net_links = self.kernel.links(netns=net_ns)
        if mine not in inside or theirs not in net_links:
            if mine in inside:
                self.kernel.ip("link", "del", mine, netns=ns)
            if theirs in net_links:
                self.kernel.ip("link", "del", theirs, netns=net_ns)
            self.kernel.ip(
                "link", "add", theirs, "type", "veth", "peer", "name", mine, "netns", ns,
                netns=net_ns,
            )  # fmt: skip
            logger.info("router %s: joined network %s (%s / %s)", rid, nid, mine, theirs)
            inside[mine] = {}
            net_links[theirs] = {}
        for where, name, link, address in (
            (ns, mine, inside[mine], ROUTER_LINK_ROUTER_IP),
            (net_ns, theirs, net_links[theirs], ROUTER_LINK_NETWORK_IP),
        ):
            if link.get("mtu") != network["mtu"]:
                self.kernel.ip("link", "set", name, "mtu", str(network["mtu"]), netns=where)
            if not _is_up(link):
                self.kernel.ip("link", "set", name, "up", netns=where)
            if f"{address}/32" not in self.kernel.addresses(name, netns=where):
                self.kernel.ip("addr", "add", f"{address}/32", "dev", name, netns=where)

    def _ensure_external(
        self, router: RouterPayload, host_links: dict[str, dict[str, Any]], ns: str
    ) -> str | None:
        """The router's veth on the external bridge, holding its address and its floating
        IPs; None (and no veth) without an external gateway."""
        rid = router["id"]
        outer, inner = self.names.ext_bridge_end(rid), self.names.ext_router_end(rid)
        bridge = router["external_bridge"]
        if not bridge or not router["external_address"]:
            if outer in host_links:
                self.kernel.ip("link", "del", outer)
                logger.info("router %s: external gateway removed", rid)
            return None
        if bridge not in host_links:
            raise NetworkAgentError(f"router {rid}: external bridge {bridge} does not exist")
        inside = self.kernel.links(netns=ns)
        if outer not in host_links or inner not in inside:
            if outer in host_links:
                self.kernel.ip("link", "del", outer)
            if inner in inside:
                self.kernel.ip("link", "del", inner, netns=ns)
            self.kernel.ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
            logger.info("router %s: external gateway on %s created", rid, bridge)
            host_links[outer] = {}
            inside[inner] = {}
        link = host_links[outer]
        if link.get("master") != bridge:
            self.kernel.ip("link", "set", outer, "master", bridge)
        if not _is_up(link):
            self.kernel.ip("link", "set", outer, "up")
        if not _is_up(inside[inner]):
            self.kernel.ip("link", "set", inner, "up", netns=ns)
        wanted = {router["external_address"]} | {
            f"{f['floating_ip_address']}/32" for f in router["floating_ips"]
        }
        actual = self.kernel.addresses(inner, netns=ns)
        for address in sorted(wanted - actual):
            self.kernel.ip("addr", "add", address, "dev", inner, netns=ns)
            logger.info("router %s: %s added on its external gateway", rid, address)
        for address in sorted(actual - wanted):
            self.kernel.ip("addr", "del", address, "dev", inner, netns=ns)
            logger.info("router %s: %s removed from its external gateway", rid, address)
        return inner

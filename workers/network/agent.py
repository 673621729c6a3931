"""The network agent: makes this host's kernel match a `HostNetworksPayload`.

`NetworkAgent.apply` is declarative and idempotent: it creates what is missing, fixes what
differs and removes what the agent made that the state no longer has (everything named with
its prefix, docs/network-agent.md). `plug_port` and `unplug_port` are the compute worker's
hot path: they change one port (and ensure its network) and leave the kernel as `apply` of
the same state would. The agent keeps the state it last made (``state.json`` in its state
directory), so those small calls know the rest of the host: the security-group tables and
the DHCP hosts are written from all of it.

Calls are serialised: a lock in the process and a lock file across processes.
"""

import copy
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from computecloud.wire import HostNetworksPayload, NetworkPayload, PortPayload
from workers.network.config import NetworkAgentConfig
from workers.network.dhcp import Dnsmasq, DnsmasqFiles
from workers.network.firewall import namespace_guard, security_groups
from workers.network.kernel import Kernel
from workers.network.metadata import MetadataProxies, ProxyFiles
from workers.network.names import (
    EXT_BRIDGE_END,
    GUARD_TABLE,
    NET_BRIDGE_END,
    NETWORK_NS,
    ROUTER_NS,
    SG_TABLE,
    VXLAN,
    Names,
    conntrack_zone,
    gateway_mac,
    id8,
)
from workers.network.networks import NetworkPlumbing
from workers.network.routers import RouterPlumbing

logger = logging.getLogger(__name__)


def _empty() -> HostNetworksPayload:
    return {"networks": [], "ports": [], "routers": []}


class NetworkAgent:
    def __init__(self, config: NetworkAgentConfig) -> None:
        self.config = config
        self.names = Names(config.prefix)
        self.kernel = Kernel(config.host_netns)
        self.plumbing = NetworkPlumbing(self.kernel, self.names, config.tunnel_ip)
        self.routers = RouterPlumbing(self.kernel, self.names)
        self.dnsmasq = Dnsmasq(self.kernel, config.dnsmasq, config.dhcp_lease_seconds)
        self.proxies = MetadataProxies(
            self.kernel, config.python, config.state_dir / "metadata-proxy.json"
        )
        self._lock = threading.RLock()

    # --- the public calls ----------------------------------------------------------------------

    def apply(self, state: HostNetworksPayload) -> None:
        """Makes the kernel match `state`, whole (at start, after "networks changed")."""
        with self._locked():
            state = copy.deepcopy(state)
            self._save(state)
            links = self.kernel.links()
            namespaces = self.kernel.namespaces()
            networks = {n["id"]: n for n in state["networks"]}
            for network in state["networks"]:
                self._ensure_network(network, state, links, namespaces)
            for router in state["routers"]:
                self.routers.ensure(router, networks, links, namespaces)
            for network in state["networks"]:
                self.routers.ensure_network_side(network, state["routers"], namespaces)
            self._ensure_security_groups(state, links)
            self._remove_others(state, namespaces)
            logger.info(
                "host networks applied: %d networks, %d ports, %d routers",
                len(state["networks"]),
                len(state["ports"]),
                len(state["routers"]),
            )

    def plug_port(self, network: NetworkPayload, port: PortPayload) -> None:
        """Before a guest's spawn or attach: its network as given, its DHCP host entry, its
        metadata identity and its filter."""
        with self._locked():
            state = self._load()
            state["networks"] = [n for n in state["networks"] if n["id"] != network["id"]]
            state["networks"].append(copy.deepcopy(network))
            state["ports"] = [p for p in state["ports"] if p["id"] != port["id"]]
            state["ports"].append(copy.deepcopy(port))
            self._save(state)
            links = self.kernel.links()
            namespaces = self.kernel.namespaces()
            self._ensure_network(network, state, links, namespaces)
            self.routers.ensure_network_side(network, state["routers"], namespaces)
            self._ensure_security_groups(state, links)
            logger.info("port %s plugged on network %s", port["id"], network["id"])

    def unplug_port(self, port_id: str) -> None:
        """At a guest's delete or detach: the port's DHCP entry, metadata identity and filter
        go; its network stays (the next "networks changed" says whether it is still needed)."""
        with self._locked():
            state = self._load()
            gone = [p for p in state["ports"] if p["id"] == port_id]
            if not gone:
                logger.info("port %s unplugged: it was not plugged here", port_id)
                return
            state["ports"] = [p for p in state["ports"] if p["id"] != port_id]
            self._save(state)
            links = self.kernel.links()
            namespaces = self.kernel.namespaces()
            for network in state["networks"]:
                if network["id"] == gone[0]["network_id"]:
                    self._ensure_network(network, state, links, namespaces)
            self._ensure_security_groups(state, links)
            logger.info("port %s unplugged from network %s", port_id, gone[0]["network_id"])

    # --- one network ---------------------------------------------------------------------------

    def _ensure_network(
        self,
        network: NetworkPayload,
        state: HostNetworksPayload,
        links: dict[str, dict[str, Any]],
        namespaces: set[str],
    ) -> None:
        nid = network["id"]
        ports = [p for p in state["ports"] if p["network_id"] == nid]
        self.plumbing.ensure_bridge(network, links)
        if network["network_type"] == "vxlan":
            self.plumbing.ensure_vxlan(network, links)
        self.plumbing.ensure_namespace(network, links, namespaces)
        ns = self.names.network_ns(nid)
        guard = namespace_guard(self.names.table(GUARD_TABLE), self.names.net_ns_end(nid))
        if guard.revision not in self.kernel.nft_chain_names(
            "inet", self.names.table(GUARD_TABLE), netns=ns
        ):
            self.kernel.nft_apply(guard.text, netns=ns)
            logger.info("network %s: guard of %s set", nid, ns)
        directory = self._directory(ns)
        self.dnsmasq.ensure(ns, self.names.net_ns_end(nid), DnsmasqFiles(directory), network, ports)
        self.proxies.write_config(self.config.metadata_url, self.config.metadata_shared_secret)
        self.proxies.ensure(nid, ns, ProxyFiles(directory), ports)

    # --- security groups -----------------------------------------------------------------------

    def _ensure_security_groups(
        self, state: HostNetworksPayload, links: dict[str, dict[str, Any]]
    ) -> None:
        table = self.names.table(SG_TABLE)
        if not state["networks"] and not state["ports"]:
            # Nothing to filter: an empty host keeps nothing of the agent's.
            existing = self.kernel.nft_table_names()
            for family in ("bridge", "inet"):
                if (family, table) in existing:
                    self.kernel.nft_delete_table(family, table)
                    logger.info("security groups removed: no network left")
            return
        zones = {
            n["bridge"]: conntrack_zone(n["id"])
            for n in state["networks"]
            # A flat bridge may carry the host's own traffic, whose replies leave unzoned.
            if n["network_type"] != "flat"
        }
        tunnels = {
            self.names.vxlan(n["id"]): gateway_mac(n["id"])
            for n in state["networks"]
            if n["network_type"] == "vxlan"
        }
        skipped: list[Any] = []
        ruleset = security_groups(
            table,
            state["ports"],
            zones,
            tunnels,
            skipped,
            bridges=[n["bridge"] for n in state["networks"]],
        )
        for rule in skipped:
            logger.info("security rule %s matches nothing here; left out", rule)
        if ruleset.revision in self.kernel.nft_chain_names("bridge", table):
            return
        self.kernel.nft_apply(ruleset.text)
        logger.info(
            "security groups set: %d filtered ports of %d",
            sum(1 for p in state["ports"] if p["security_rules"] is not None),
            len(state["ports"]),
        )

    # --- removal -------------------------------------------------------------------------------

    def _remove_others(self, state: HostNetworksPayload, namespaces: set[str]) -> None:
        """Removes what carries this agent's names and is not in `state`."""
        networks = {id8(n["id"]) for n in state["networks"]}
        vxlans = {id8(n["id"]) for n in state["networks"] if n["network_type"] == "vxlan"}
        routers = {id8(r["id"]) for r in state["routers"]}
        externals = {
            id8(r["id"]) for r in state["routers"] if r["external_bridge"] and r["external_address"]
        }
        bridges = {n["bridge"] for n in state["networks"] if n["network_type"] == "vxlan"}
        # Namespaces, and the files of namespaces already gone (a reboot keeps a state
        # directory that is not on a tmpfs): their daemons may still run.
        leftovers = {p.name for p in self.config.state_dir.iterdir() if p.is_dir()}
        for ns in sorted(namespaces | leftovers):
            kind = self.names.kind_of(ns)
            if kind is None:
                continue
            if (kind[0] == NETWORK_NS and kind[1] not in networks) or (
                kind[0] == ROUTER_NS and kind[1] not in routers
            ):
                self._remove_namespace(ns)
        for name, link in self.kernel.links().items():
            kind = self.names.kind_of(name)
            if kind is not None:
                keep = {VXLAN: vxlans, NET_BRIDGE_END: networks, EXT_BRIDGE_END: externals}
                if kind[0] in keep and kind[1] not in keep[kind[0]]:
                    self.kernel.ip("link", "del", name, check=False)
                    logger.info("%s removed: not in this host's networks", name)
            elif link.get("linkinfo", {}).get("info_kind") == "bridge":
                network_id = self.names.owned_bridge(link.get("ifalias"))
                if network_id is not None and name not in bridges:
                    self.kernel.ip("link", "del", name, check=False)
                    logger.info("network %s: bridge %s removed", network_id, name)

    def _remove_namespace(self, ns: str) -> None:
        directory = self._directory(ns)
        self.dnsmasq.stop(DnsmasqFiles(directory))
        self.proxies.stop(ProxyFiles(directory))
        self.kernel.delete_namespace(ns)
        for path in sorted(directory.glob("*")) if directory.exists() else []:
            path.unlink()
        if directory.exists():
            directory.rmdir()
        logger.info("namespace %s removed with its daemons", ns)

    # --- the agent's own files -----------------------------------------------------------------

    def _directory(self, ns: str) -> Any:
        return self.config.state_dir / ns

    @property
    def _state_file(self) -> Any:
        return self.config.state_dir / "state.json"

    def _load(self) -> HostNetworksPayload:
        try:
            return cast(HostNetworksPayload, json.loads(self._state_file.read_text()))
        except FileNotFoundError:
            return _empty()

    def _save(self, state: HostNetworksPayload) -> None:
        temporary = self._state_file.with_name("state.json.tmp")
        temporary.write_text(json.dumps(state, sort_keys=True))
        os.replace(temporary, self._state_file)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.config.state_dir, 0o755)  # noqa: S103 - dnsmasq, as nobody, reads below
            with open(self.config.state_dir / "lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

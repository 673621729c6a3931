"""Runs iproute2, nftables and sysctl, on the host or in a namespace; no decisions here.

Argument lists, never a shell. Reads use the tools' JSON output (``ip -j``, ``bridge -j``,
``nft -j``), so nothing is parsed by hand. "The host" is the agent's own network namespace, or
the one its configuration names (`NetworkAgentConfig.host_netns`): commands for the host then
run under ``ip netns exec`` there. Named namespaces are global, so commands inside a network's
or a router's namespace run the same either way.
"""

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from workers.network.exceptions import CommandFailed

logger = logging.getLogger(__name__)

# No tool the agent runs should take long; one that hangs must not hang the compute worker.
COMMAND_TIMEOUT = 30


class Kernel:
    def __init__(self, host_netns: str | None = None) -> None:
        self.host_netns = host_netns

    def wrap(self, argv: list[str], netns: str | None = None) -> list[str]:
        """`argv` as run on the host (netns None) or inside the named namespace."""
        target = netns or self.host_netns
        return ["ip", "netns", "exec", target, *argv] if target else argv

    def _run_here(self, argv: list[str], check: bool = True) -> None:
        result = subprocess.run(  # noqa: S603 - an argument list of our own tools
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
        if check and result.returncode != 0:
            raise CommandFailed(argv, result.returncode, result.stderr)

    def run(
        self,
        argv: list[str],
        *,
        netns: str | None = None,
        stdin: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full = self.wrap(argv, netns)
        result = subprocess.run(  # noqa: S603 - an argument list of our own tools
            full,
            input=stdin,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            raise CommandFailed(full, result.returncode, result.stderr)
        return result

    # --- iproute2 ------------------------------------------------------------------------------

    def ip(self, *args: str, netns: str | None = None, check: bool = True) -> str:
        return self.run(["ip", *args], netns=netns, check=check).stdout

    def ip_json(self, *args: str, netns: str | None = None) -> list[dict[str, Any]]:
        out = self.run(["ip", "-j", *args], netns=netns).stdout.strip()
        return json.loads(out) if out else []

    def links(self, netns: str | None = None) -> dict[str, dict[str, Any]]:
        """Every link by name, with details (kind, master, alias, address, mtu, state)."""
        return {link["ifname"]: link for link in self.ip_json("-d", "link", "show", netns=netns)}

    def addresses(self, device: str, netns: str | None = None) -> set[str]:
        """The addresses on `device` as "address/prefixlen" (permanent, global and host
        scope; the kernel's own IPv6 link-local addresses left out)."""
        found: set[str] = set()
        for link in self.ip_json("addr", "show", "dev", device, netns=netns):
            for info in link.get("addr_info", []):
                if info.get("scope") == "link" and info.get("family") == "inet6":
                    continue
                found.add(f"{info['local']}/{info['prefixlen']}")
        return found

    def routes(self, netns: str | None = None) -> list[dict[str, Any]]:
        return self.ip_json("route", "show", netns=netns)

    def namespaces(self) -> set[str]:
        return {entry["name"] for entry in self.ip_json("netns", "list")}

    def add_namespace(self, name: str) -> None:
        # Never under "ip netns exec": that runs in a mount namespace of its own, where the
        # new namespace's mount at /run/netns/<name> would stay, invisible to everyone else.
        self._run_here(["ip", "netns", "add", name])

    def delete_namespace(self, name: str) -> None:
        self._run_here(["ip", "netns", "del", name], check=False)

    def fdb_remotes(self, device: str) -> set[str]:
        """The remote tunnel ends of `device`'s all-zero (flood) forwarding entries."""
        out = self.run(["bridge", "-j", "fdb", "show", "dev", device]).stdout.strip()
        entries = json.loads(out) if out else []
        return {e["dst"] for e in entries if e.get("mac") == "00:00:00:00:00:00" and e.get("dst")}

    def sysctl(self, key: str, value: str, netns: str | None = None) -> None:
        self.run(["sysctl", "-qw", f"{key}={value}"], netns=netns)

    # --- nftables ------------------------------------------------------------------------------

    def nft_apply(self, ruleset: str, netns: str | None = None) -> None:
        """One `nft -f` transaction: all of it applies, or none."""
        self.run(["nft", "-f", "-"], netns=netns, stdin=ruleset)

    def nft_table_names(self, netns: str | None = None) -> set[tuple[str, str]]:
        """(family, name) of every table."""
        out = self.run(["nft", "-j", "list", "tables"], netns=netns).stdout
        return {
            (item["table"]["family"], item["table"]["name"])
            for item in json.loads(out).get("nftables", [])
            if "table" in item
        }

    def nft_chain_names(self, family: str, table: str, netns: str | None = None) -> set[str]:
        """The chains of one table; empty when the table does not exist."""
        result = self.run(["nft", "-j", "list", "table", family, table], netns=netns, check=False)
        if result.returncode != 0:
            return set()
        return {
            item["chain"]["name"]
            for item in json.loads(result.stdout).get("nftables", [])
            if "chain" in item
        }

    def nft_delete_table(self, family: str, name: str, netns: str | None = None) -> None:
        self.run(["nft", "delete", "table", family, name], netns=netns)

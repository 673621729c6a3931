"""A network's dnsmasq: the ports' fixed addresses by DHCP, nothing else (no DNS: port 0).

One dnsmasq per network, in the network's namespace, bound to its veth there. Its command line
says the subnets (ranges and options), so a subnet change restarts it; its hosts file says the
ports (``MAC,IP,hostname``), re-read on SIGHUP, so a port change never restarts it.
"""

import ipaddress
import logging
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from computecloud.wire import NetworkPayload, PortPayload, SubnetPayload
from workers.network import process
from workers.network.kernel import Kernel
from workers.network.names import METADATA_IP

logger = logging.getLogger(__name__)

_HOSTNAME_BAD = re.compile(r"[^a-z0-9-]+")


def service_address(subnet: SubnetPayload) -> str | None:
    """The namespace's address on an IPv4 subnet: its gateway, or without one the last host
    address (dnsmasq serves only subnets it has an address on). None for IPv6."""
    cidr = ipaddress.ip_network(subnet["cidr"], strict=False)
    if cidr.version != 4:
        return None
    if subnet["gateway_ip"]:
        return subnet["gateway_ip"]
    return str(cidr.broadcast_address - 1)


def dhcp_subnets(network: NetworkPayload) -> list[SubnetPayload]:
    return [
        s
        for s in network["subnets"]
        if s["enable_dhcp"] and ipaddress.ip_network(s["cidr"], strict=False).version == 4
    ]


def hostname(port: PortPayload) -> str:
    """A hostname dnsmasq accepts (it refuses the whole line otherwise)."""
    name = _HOSTNAME_BAD.sub("-", port["hostname"].lower()).strip("-")[:63]
    return name or "host-" + port["id"][:8]


def hosts_file(network: NetworkPayload, ports: list[PortPayload]) -> str:
    """dnsmasq's dhcp-hostsfile: one ``MAC,IP,hostname`` per fixed IP on a DHCP subnet."""
    subnets = {s["id"] for s in dhcp_subnets(network)}
    lines = []
    for port in sorted(ports, key=lambda p: p["id"]):
        for fixed in port["fixed_ips"]:
            if fixed["subnet_id"] in subnets:
                mac = port["mac_address"].lower()
                lines.append(f"{mac},{fixed['ip_address']},{hostname(port)}")
    return "".join(line + "\n" for line in lines)


def _routes(subnet: SubnetPayload, server: str) -> list[str]:
    """Option 121 (classless static routes) as dnsmasq's list, empty when none is needed. A
    client that gets 121 ignores the router option, so the default route goes in too."""
    routes = [f"{r['destination']},{r['nexthop']}" for r in subnet["host_routes"]]
    gateway = subnet["gateway_ip"]
    if not gateway:
        # No default route to the namespace: the metadata address needs its own.
        routes.append(f"{METADATA_IP}/32,{server}")
    elif routes:
        routes.append(f"0.0.0.0/0,{gateway}")
    return routes


@dataclass(frozen=True)
class DnsmasqFiles:
    directory: Path

    @property
    def pid(self) -> Path:
        return self.directory / "dnsmasq.pid"

    @property
    def hosts(self) -> Path:
        return self.directory / "dhcp-hosts"

    @property
    def leases(self) -> Path:
        return self.directory / "dhcp-leases"

    @property
    def log(self) -> Path:
        return self.directory / "dnsmasq.log"


def dnsmasq_argv(
    program: str,
    files: DnsmasqFiles,
    device: str,
    network: NetworkPayload,
    lease_seconds: int,
) -> list[str]:
    argv = [
        program,
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        "--port=0",
        f"--pid-file={files.pid}",
        f"--dhcp-hostsfile={files.hosts}",
        f"--dhcp-leasefile={files.leases}",
        f"--log-facility={files.log}",
        f"--interface={device}",
        "--except-interface=lo",
        "--bind-interfaces",
        "--dhcp-authoritative",
    ]
    for index, subnet in enumerate(dhcp_subnets(network)):
        cidr = ipaddress.ip_network(subnet["cidr"], strict=False)
        tag = f"subnet{index}"
        server = service_address(subnet)
        argv.append(
            f"--dhcp-range=set:{tag},{cidr.network_address},static,{cidr.netmask},{lease_seconds}s"
        )
        gateway = subnet["gateway_ip"]
        argv.append(f"--dhcp-option=tag:{tag},option:router" + (f",{gateway}" if gateway else ""))
        dns = ",".join(subnet["dns_nameservers"])
        argv.append(f"--dhcp-option=tag:{tag},option:dns-server" + (f",{dns}" if dns else ""))
        argv.append(f"--dhcp-option=tag:{tag},option:mtu,{network['mtu']}")
        routes = _routes(subnet, server or "")
        if routes:
            argv.append(
                f"--dhcp-option=tag:{tag},option:classless-static-route," + ",".join(routes)
            )
    return argv


class Dnsmasq:
    def __init__(self, kernel: Kernel, program: str, lease_seconds: int) -> None:
        self.kernel = kernel
        self.program = program
        self.lease_seconds = lease_seconds

    def ensure(
        self,
        namespace: str,
        device: str,
        files: DnsmasqFiles,
        network: NetworkPayload,
        ports: list[PortPayload],
    ) -> None:
        """dnsmasq serving `ports` on `network`: started (or restarted when the subnets
        changed), told of a changed hosts file by SIGHUP, stopped when no subnet has DHCP."""
        if not dhcp_subnets(network):
            if process.stop(files.pid):
                logger.info("network %s: dnsmasq stopped (no DHCP subnet)", network["id"])
            return
        files.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(files.directory, 0o755)  # noqa: S103 - dnsmasq re-reads as nobody
        changed = _write_if_changed(files.hosts, hosts_file(network, ports))
        argv = dnsmasq_argv(self.program, files, device, network, self.lease_seconds)
        pid = process.running(files.pid, argv)
        if pid is not None:
            if changed:
                os.kill(pid, signal.SIGHUP)
                logger.info("network %s: dnsmasq %d re-read its hosts", network["id"], pid)
            return
        if process.stop(files.pid):
            logger.info("network %s: dnsmasq stopped for a subnet change", network["id"])
        self.kernel.run(argv, netns=namespace)
        logger.info(
            "network %s: dnsmasq %s started in %s",
            network["id"],
            process.read_pid(files.pid),
            namespace,
        )

    def stop(self, files: DnsmasqFiles) -> bool:
        return process.stop(files.pid)


def _write_if_changed(path: Path, content: str) -> bool:
    """Writes `content` atomically (readable by dnsmasq as "nobody") unless it is already
    there; True when the file changed."""
    try:
        if path.read_text() == content:
            return False
    except FileNotFoundError:
        pass
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(content)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return True

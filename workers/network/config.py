"""The network agent's settings. The compute worker builds one from its environment."""

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

_PREFIX = re.compile(r"[a-z][a-z0-9]{0,3}")


@dataclass(frozen=True)
class NetworkAgentConfig:
    # Everything the agent makes in the kernel is named from this (1-4 lowercase letters and
    # digits, so that every interface name stays within the kernel's 15 characters), and
    # everything so named is the agent's to change or remove: two agents with different
    # prefixes never touch each other's, nor anything else of the host's.
    prefix: str = "cc"
    # Files the agent and its daemons keep (dnsmasq's hosts and lease files, the metadata
    # proxy's address map, pid files). A tmpfs is right: it goes with the kernel's state at a
    # reboot. It must be traversable by "nobody": dnsmasq re-reads its hosts file after it has
    # dropped root.
    state_dir: Path = Path("/run/computecloud/network")
    # This host's address on the tunnel (underlay) network: the local end of vxlan devices.
    tunnel_ip: str | None = None
    # The network namespace that stands for "the host" (its bridges, vxlan devices, tunnel
    # address, the metadata service's route). None: the agent's own. Tests run two agents
    # as two hosts on one machine this way.
    host_netns: str | None = None
    # Where the metadata proxies forward guests' requests (the metadata service), and the
    # secret both share: the proxy signs the instance id with it (X-Instance-ID-Signature).
    metadata_url: str = "http://127.0.0.1:8775"
    metadata_shared_secret: str = field(default="", repr=False)
    # Lease time dnsmasq gives guests, in seconds.
    dhcp_lease_seconds: int = 86400
    # The interpreter that runs the metadata proxy (python -m workers.network.metadata_proxy).
    python: str = sys.executable
    dnsmasq: str = "dnsmasq"

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"prefix {self.prefix!r}: 1-4 lowercase letters and digits")

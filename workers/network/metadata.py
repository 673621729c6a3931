"""A network's metadata proxy, as the agent runs it: its address map and its process.

The proxy itself is workers/network/metadata_proxy.py. The agent writes the map (fixed
address -> instance and project) whenever the network's ports change, atomically; the proxy
reads it per request, so a port change never restarts it.
"""

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from computecloud.wire import PortPayload
from workers.network import process
from workers.network.kernel import Kernel

logger = logging.getLogger(__name__)

# The directory from which `python -m workers.network.metadata_proxy` imports.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProxyFiles:
    directory: Path

    @property
    def pid(self) -> Path:
        return self.directory / "metadata-proxy.pid"

    @property
    def map(self) -> Path:
        return self.directory / "metadata-map.json"

    @property
    def log(self) -> Path:
        return self.directory / "metadata-proxy.log"


def address_map(ports: list[PortPayload]) -> dict[str, dict[str, str]]:
    """Each fixed address of a port bound to an instance -> that instance and its project."""
    entries: dict[str, dict[str, str]] = {}
    for port in sorted(ports, key=lambda p: p["id"]):
        if not port["device_id"]:
            continue
        for fixed in port["fixed_ips"]:
            entries[fixed["ip_address"]] = {
                "instance_id": port["device_id"],
                "project_id": port["project_id"],
            }
    return entries


def write_private(path: Path, content: str) -> bool:
    """Writes `content` atomically, readable by root alone, unless it is already there."""
    try:
        if path.read_text() == content:
            return False
    except FileNotFoundError:
        pass
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.replace(temporary, path)
    return True


class MetadataProxies:
    def __init__(self, kernel: Kernel, python: str, config_file: Path) -> None:
        self.kernel = kernel
        self.python = python
        self.config_file = config_file

    def write_config(self, url: str, secret: str) -> None:
        """The proxies' shared settings (a file, not arguments: the secret stays out of ps)."""
        write_private(self.config_file, json.dumps({"url": url, "secret": secret}))

    def argv(self, namespace: str, files: ProxyFiles) -> list[str]:
        return [
            self.python,
            "-m",
            "workers.network.metadata_proxy",
            f"--listen-netns={namespace}",
            f"--config={self.config_file}",
            f"--map={files.map}",
            f"--pid-file={files.pid}",
            f"--log-file={files.log}",
        ]

    def ensure(
        self, network_id: str, namespace: str, files: ProxyFiles, ports: list[PortPayload]
    ) -> None:
        files.directory.mkdir(parents=True, exist_ok=True)
        if write_private(files.map, json.dumps(address_map(ports), sort_keys=True)):
            logger.info("network %s: metadata map written (%d ports)", network_id, len(ports))
        argv = self.argv(namespace, files)
        if process.running(files.pid, argv) is not None:
            return
        if process.stop(files.pid):
            logger.info("network %s: metadata proxy stopped for a new configuration", network_id)
        # The proxy's parent returns once it listens (it daemonizes, leaving its pid).
        self.kernel.run(argv, cwd=PROJECT_ROOT)
        logger.info(
            "network %s: metadata proxy %s started in %s",
            network_id,
            process.read_pid(files.pid),
            namespace,
        )

    def stop(self, files: ProxyFiles) -> bool:
        return process.stop(files.pid)

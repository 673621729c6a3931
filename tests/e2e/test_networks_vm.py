"""Real guests on project networks, through the whole stack: the Neutron API, the compute API,
the conductor, a compute worker on qemu:///system whose network agent builds bridges,
namespaces, dnsmasq, the metadata proxy, nftables and a router in this machine's kernel, and
tinyos guests that take their address by DHCP. The guest under test is booted as a user boots
one, with the real ``openstack server create --nic net-id=... --user-data FILE``.

A bridge with the host's address on it stands for the outside world: the external (flat)
network is mapped to it, so the host reaches guests through floating IPs and guests reach the
host through SNAT, as users and the internet do.

Run it alone on the machine: ``flock /tmp/cc-vm.lock pytest -m vm tests/e2e/test_networks_vm.py``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apps.networks.models import Port
from tests.clients.cli import (  # noqa: F401 - fixtures
    OpenStackEnv,
    fresh_auth_state,
    make_openstack_env,
    service_roots,
)
from tests.cloud import Cloud, cloud, forget_hosts  # noqa: F401 - fixtures
from tests.e2e.guest_helpers import build_image, destroy_guests_under
from tests.harness import CloudProcesses, purge_broker, wait_until
from tests.metadata.test_server import MetadataServer, metadata_server  # noqa: F401 - fixture

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.vm, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
NET = "/network/v2.0"
BOOT_TIMEOUT = 240.0
PHYSNET = "e2eworld"
OUTSIDE_CIDR = "203.0.113.0/24"
OUTSIDE_HOST_IP = "203.0.113.1"
GUEST_PORT = 8080


@dataclass(frozen=True)
class Outside:
    bridge: str


@pytest.fixture(scope="module")
def outside() -> Iterator[Outside]:
    """The world: a bridge holding the host's outside address."""
    bridge = f"ccw{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{OUTSIDE_HOST_IP}/24", "dev", bridge], check=True)
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        yield Outside(bridge=bridge)
    finally:
        subprocess.run(["ip", "link", "del", bridge], check=False)


@pytest.fixture(scope="module")
def qemu_host_name() -> str:
    return f"cc-netvm-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def cloud_processes(
    django_db_setup: None,
    django_db_blocker: Any,
    live_server: Any,
    metadata_server: MetadataServer,  # noqa: F811
    outside: Outside,
    qemu_host_name: str,
) -> Iterator[CloudProcesses]:
    """A conductor that maps the outside network to the test's bridge and runs routers on
    the one compute host, on real QEMU, whose metadata proxies reach the test's metadata
    server."""
    purge_broker()
    workdir = Path(tempfile.mkdtemp(prefix="cc-netvm-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    processes = CloudProcesses(
        public_url=live_server.url, workdir=workdir, metadata_url=metadata_server.url
    )
    network_env = {
        "NETWORK_PHYSICAL_BRIDGES": f"{PHYSNET}={outside.bridge}",
        "NETWORK_GATEWAY_HOST": qemu_host_name,
    }
    try:
        with django_db_blocker.unblock():
            processes.start_conductor(extra_env=network_env)
            processes.start_compute(
                qemu_host_name,
                libvirt_uri="qemu:///system",
                virt_type=os.environ.get("VIRT_TYPE", "qemu"),
            )
        yield processes
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        # Guests a failed test left: their host is gone, so nothing else would stop them.
        left = destroy_guests_under(workdir)
        if left:
            logger.warning("destroyed guests a failed test left: %s", ", ".join(left))
        with django_db_blocker.unblock():
            forget_hosts(hosts)


@pytest.fixture
def net_cloud(
    cloud: Cloud,  # noqa: F811
    settings: Any,
    outside: Outside,
    qemu_host_name: str,
) -> Cloud:
    """The cloud as this process's API sees it: the same mapping and gateway host as the
    conductor's, and the tinyos image."""
    from apps.identity.services import ensure_project
    from apps.images.services import ensure_image_from_file

    settings.COMPUTECLOUD = {
        **settings.COMPUTECLOUD,
        "NETWORK_PHYSICAL_BRIDGES": {PHYSNET: outside.bridge},
        "NETWORK_GATEWAY_HOST": qemu_host_name,
    }
    image = ensure_image_from_file(
        name="tinyos",
        path=build_image(),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    cloud.image_id = str(image.id)
    return cloud


# --- helpers ------------------------------------------------------------------------------------
def made(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:800])
    return response.json() if response.content else None


def post(client: Any, path: str, body: dict[str, Any], status: int = 201) -> Any:
    return made(client.post(path, body, format="json"), status)


def console(client: Any, server_id: str) -> str:
    response = client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        {"os-getConsoleOutput": {}},
        format="json",
        **V,
    )
    return response.json().get("output", "") if response.status_code == 200 else ""


def wait_console(client: Any, server_id: str, pattern: str, timeout: float = BOOT_TIMEOUT) -> str:
    """The first match of `pattern` (a regex) in the server's console, waiting for it."""

    def found() -> str | None:
        match = re.search(pattern, console(client, server_id), re.MULTILINE)
        return match.group(0) if match else None

    return wait_until(found, timeout=timeout, interval=1.0, what=f"{pattern!r} on {server_id}")


def boot(on: Cloud, client: Any, name: str, nic: dict[str, str]) -> str:
    """A peer server, through the API (the guest under test goes through the real CLI)."""
    body: dict[str, Any] = {
        "server": {"name": name, "imageRef": on.image_id, "flavorRef": "0", "networks": [nic]}
    }
    response = client.post("/compute/v2.1/servers", body, format="json", **V)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def host_ping(address: str) -> bool:
    """One ping from the host (busybox's: the host has no ping of its own)."""
    done = subprocess.run(
        ["busybox", "ping", "-c", "1", "-W", "2", address], capture_output=True, check=False
    )
    return done.returncode == 0


def host_fetch(address: str, port: int) -> str | None:
    """What the guest's listener says to a TCP connection from the host; None if refused,
    dropped or silent."""
    try:
        with socket.create_connection((address, port), timeout=3) as conn:
            conn.settimeout(3)
            return conn.recv(200).decode(errors="replace")
    except OSError:
        return None


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def guest_script(*, peer: str, stranger: str, gateway: str, greeting: str) -> str:
    """tinyos user data: report the lease, the metadata it reads, what it can ping, then
    answer TCP on GUEST_PORT and report a second NIC when one is attached."""
    return f"""#!/bin/sh
say() {{ echo "NETCHECK $*"; }}
i=0
until ip -4 -o addr show eth0 | grep -q inet; do
    i=$((i + 1)); [ "$i" -gt 120 ] && break; sleep 1
done
say addr $(ip -4 -o addr show eth0 | awk '{{print $4}}')
md=$(timeout 20 wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json)
say md $(echo "$md" | grep -o '"uuid": "[^"]*"' | head -n 1)
if ping -c 2 -W 2 {gateway} >/dev/null; then say gateway ok; else say gateway fail; fi
i=0
until ping -c 1 -W 1 {peer} >/dev/null; do
    i=$((i + 1)); [ "$i" -gt 120 ] && break
done
if [ "$i" -le 120 ]; then say peer ok; else say peer fail; fi
if ping -c 3 -W 2 {stranger} >/dev/null; then say stranger ok; else say stranger fail; fi
if ping -c 3 -W 2 {OUTSIDE_HOST_IP} >/dev/null; then say outside ok; else say outside fail; fi
(while :; do echo "{greeting}" | nc -l -p {GUEST_PORT}; done) >/dev/null 2>&1 &
(until [ -e /sys/class/net/eth1 ]; do sleep 1; done; say eth1 present) &
say ready
"""


# --- the test -----------------------------------------------------------------------------------
def test_guests_on_project_networks(
    net_cloud: Cloud,
    admin: Any,
    member: Any,
    make_caller: Callable[..., Any],
    make_openstack_env: Callable[..., OpenStackEnv],  # noqa: F811
    qemu_host_name: str,
    record_property: Callable[[str, object], None],
    tmp_path: Path,
) -> None:
    client = member.client
    # The member's project as the real CLI sees it: a user with a password there.
    cli = make_openstack_env(role="member", project=member.project)
    figures: dict[str, float] = {}

    # The outside world, an admin's flat external network.
    external = post(
        admin.client,
        f"{NET}/networks",
        {
            "network": {
                "name": "world",
                "router:external": True,
                "provider:network_type": "flat",
                "provider:physical_network": PHYSNET,
            }
        },
    )["network"]
    post(
        admin.client,
        f"{NET}/subnets",
        {
            "subnet": {
                "network_id": external["id"],
                "cidr": OUTSIDE_CIDR,
                "ip_version": 4,
                "gateway_ip": OUTSIDE_HOST_IP,
                "enable_dhcp": False,
                "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.60"}],
            }
        },
    )

    # The member's network, routed to the world.
    network = post(client, f"{NET}/networks", {"network": {"name": "e2e-net"}})["network"]
    subnet = post(
        client,
        f"{NET}/subnets",
        {"subnet": {"network_id": network["id"], "cidr": "10.77.31.0/24", "ip_version": 4}},
    )["subnet"]
    router = post(
        client,
        f"{NET}/routers",
        {"router": {"name": "e2e-router", "external_gateway_info": {"network_id": external["id"]}}},
    )["router"]
    made(
        client.put(
            f"{NET}/routers/{router['id']}/add_router_interface",
            {"subnet_id": subnet["id"]},
            format="json",
        ),
        200,
    )
    # The peer, at an address chosen up front.
    peer_port = post(
        client,
        f"{NET}/ports",
        {"port": {"network_id": network["id"], "fixed_ips": [{"ip_address": "10.77.31.20"}]}},
    )["port"]
    peer_id = boot(net_cloud, client, "peer", {"port": peer_port["id"]})

    # A stranger: another project's network with the same addresses.
    stranger = make_caller()
    their_net = post(stranger.client, f"{NET}/networks", {"network": {"name": "theirs"}})["network"]
    post(
        stranger.client,
        f"{NET}/subnets",
        {"subnet": {"network_id": their_net["id"], "cidr": "10.77.31.0/24", "ip_version": 4}},
    )
    their_port = post(
        stranger.client,
        f"{NET}/ports",
        {"port": {"network_id": their_net["id"], "fixed_ips": [{"ip_address": "10.77.31.30"}]}},
    )["port"]
    stranger_id = boot(net_cloud, stranger.client, "stranger", {"port": their_port["id"]})

    # The guest under test, as a user boots one: `openstack server create --nic net-id=`.
    greeting = f"hello-{uuid.uuid4().hex[:8]}"
    user_data = tmp_path / "user-data"
    user_data.write_text(
        guest_script(
            peer="10.77.31.20", stranger="10.77.31.30", gateway="10.77.31.1", greeting=greeting
        )
    )
    started = time.monotonic()
    created = cli.openstack(
        "server", "create", "--image", net_cloud.image_id, "--flavor", "m1.nano",
        "--nic", f"net-id={network['id']}", "--user-data", str(user_data), "guest",
    )  # fmt: skip
    guest_id = created["id"]
    body = net_cloud.wait_for_server(client, guest_id, {"ACTIVE"}, timeout=BOOT_TIMEOUT)
    # From the CLI's start (Python, authentication, discovery, the POST) to ACTIVE.
    figures["cli_to_active_s"] = round(time.monotonic() - started, 2)
    active_at = time.monotonic()
    [fixed] = body["addresses"]["e2e-net"]
    lease = wait_console(client, guest_id, r"tinyos eth0: \S+ router \S+")
    figures["active_to_lease_s"] = round(time.monotonic() - active_at, 2)
    assert lease.split()[2] == f"{fixed['addr']}/24"
    assert lease.split()[4] == "10.77.31.1"

    ready = wait_console(client, guest_id, r"^NETCHECK ready")
    assert ready
    out = console(client, guest_id)
    checks = {
        parts[1]: parts[2]
        for parts in (line.split(" ", 2) for line in out.splitlines())
        if len(parts) == 3 and parts[0] == "NETCHECK"
    }
    assert checks["addr"].strip() == f"{fixed['addr']}/24", checks
    assert checks["md"].strip() == f'"uuid": "{guest_id}"', checks
    assert checks["gateway"].strip() == "ok", checks
    assert checks["peer"].strip() == "ok", checks
    assert checks["stranger"].strip() == "fail", checks
    assert checks["outside"].strip() == "ok", checks

    # From the outside, through a floating IP, once the group lets it in.
    [guest_port] = made(client.get(f"{NET}/ports?device_id={guest_id}"), 200)["ports"]
    floating = post(
        client,
        f"{NET}/floatingips",
        {"floatingip": {"floating_network_id": external["id"], "port_id": guest_port["id"]}},
    )["floatingip"]
    address = floating["floating_ip_address"]
    shown = made(client.get(f"/compute/v2.1/servers/{guest_id}", **V), 200)["server"]
    assert {"addr": address, "version": 4, "OS-EXT-IPS:type": "floating"}.items() <= next(
        a for a in shown["addresses"]["e2e-net"] if a["OS-EXT-IPS:type"] == "floating"
    ).items()
    assert host_fetch(address, GUEST_PORT) is None  # the default group keeps strangers out
    [group] = made(client.get(f"{NET}/security-groups?name=default"), 200)["security_groups"]
    for protocol, port in (("icmp", None), ("tcp", GUEST_PORT)):
        rule: dict[str, Any] = {
            "security_group_id": group["id"],
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": protocol,
            "remote_ip_prefix": "0.0.0.0/0",
        }
        if port:
            rule.update(port_range_min=port, port_range_max=port)
        created = post(client, f"{NET}/security-group-rules", {"security_group_rule": rule})
        if protocol == "tcp":
            tcp_rule = created["security_group_rule"]["id"]
    wait_until(lambda: host_ping(address), timeout=60, interval=0.5, what="ping of the FIP")
    reply = wait_until(
        lambda: host_fetch(address, GUEST_PORT), timeout=60, interval=0.5, what="TCP to the FIP"
    )
    assert reply.strip() == greeting

    # The rule removed: the running guest is cut off; added again: reachable again.
    made(client.delete(f"{NET}/security-group-rules/{tcp_rule}"), 204)
    wait_until(
        lambda: host_fetch(address, GUEST_PORT) is None,
        timeout=60,
        interval=0.5,
        what="TCP to the FIP refused once its rule is gone",
    )
    assert host_ping(address)  # ICMP still allowed: only the TCP rule went
    post(
        client,
        f"{NET}/security-group-rules",
        {
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "tcp",
                "port_range_min": GUEST_PORT,
                "port_range_max": GUEST_PORT,
                "remote_ip_prefix": "0.0.0.0/0",
            }
        },
    )
    wait_until(
        lambda: host_fetch(address, GUEST_PORT) == f"{greeting}\n",
        timeout=60,
        interval=0.5,
        what="TCP to the FIP once its rule is back",
    )

    # An interface attached and detached live.
    url = f"/compute/v2.1/servers/{guest_id}/os-interface"
    attached = made(
        client.post(url, {"interfaceAttachment": {"net_id": network["id"]}}, format="json", **V),
        200,
    )["interfaceAttachment"]
    second = attached["port_id"]
    wait_until(
        lambda: (
            made(client.get(f"{url}/{second}", **V), 200)["interfaceAttachment"]["port_state"]
            == "ACTIVE"
        ),
        timeout=60,
        interval=0.5,
        what="the attached port ACTIVE",
    )
    tap = f"tap{second[:11]}"
    assert link_exists(tap)
    wait_console(client, guest_id, r"^NETCHECK eth1 present", timeout=60)
    assert made(client.delete(f"{url}/{second}", **V), 202) is None
    wait_until(
        lambda: not Port.objects.filter(pk=second).exists(),
        timeout=90,
        interval=0.5,
        what="the detached port released",
    )
    assert not link_exists(tap)
    assert [i["port_id"] for i in made(client.get(url, **V), 200)["interfaceAttachments"]] == [
        guest_port["id"]
    ]

    # Gone: the ports compute made go; the user's ports stay, unbound.
    for caller, server_id in (
        (client, guest_id),
        (client, peer_id),
        (stranger.client, stranger_id),
    ):
        assert caller.delete(f"/compute/v2.1/servers/{server_id}", **V).status_code == 204
    for caller, server_id in (
        (client, guest_id),
        (client, peer_id),
        (stranger.client, stranger_id),
    ):
        net_cloud.wait_for_server(caller, server_id, {"DELETED"}, timeout=BOOT_TIMEOUT)
    assert not Port.objects.filter(pk=guest_port["id"]).exists()
    assert made(client.get(f"{NET}/ports/{peer_port['id']}"), 200)["port"]["device_id"] == ""

    for name, value in figures.items():
        record_property(name, value)
    logger.info("network e2e figures on %s: %s", qemu_host_name, figures)
    print(f"network e2e figures: {figures}")  # noqa: T201 - the benchmark's figures

"""A compute host on another machine: it reaches the control plane only at the addresses it
is configured with, never at the control plane's 127.0.0.1.

The "other machine" is a network namespace joined to this one by a veth pair (10.239.4.0/30:
the control plane at .1, the host at .2), with its own loopback and no other route. The
control plane (the API under gunicorn, a conductor) runs here against a private Redis that
asks for a password and speaks only TLS (a throw-away CA and certificate made by
docs/operations.md's commands, run as written but for the paths, the address and the port);
the compute worker runs in the namespace on libvirt's test:///default with REDIS_URL and
CONTROL_PLANE_URL naming 10.239.4.1, and no database settings. It registers, takes a build,
reports its state and deletes the server, and its image download reaches the API at the
public address.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from apps.flavors.services import ensure_standard_flavors
from apps.identity.services import assign_roles, ensure_project
from apps.identity.tokens import issue_token
from apps.images.services import ensure_image_from_file
from tests.cloud import forget_hosts, tiny_qcow2
from tests.docs import block
from tests.factories import UserFactory
from tests.harness import CloudProcesses, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Fixed names, so that a run interrupted before its clean-up is cleaned up by the next one.
NETNS = "ccmh-host"
VETH_CONTROL = "ccmh0"  # this (the control plane's) end
VETH_HOST = "ccmh1"  # the end inside the namespace
CONTROL_IP = "10.239.4.1"
HOST_IP = "10.239.4.2"
PREFIX_LENGTH = 30
REDIS_PIDFILE = Path("/run/cc-multihost-redis.pid")
COMPUTE = {"OpenStack-API-Version": "compute 2.96"}


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def remove_network() -> None:
    """The namespace (and any process still in it: an interrupted run's worker), the veth
    pair, and an interrupted run's Redis."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    if NETNS in listed.stdout.split():
        pids = subprocess.run(
            ["ip", "netns", "pids", NETNS], capture_output=True, text=True, check=True
        ).stdout.split()
        for leftover in pids:
            os.kill(int(leftover), signal.SIGKILL)
        ip("netns", "del", NETNS)
    # Deleting either end deletes the pair; the namespace's end went with the namespace.
    subprocess.run(["ip", "link", "del", VETH_CONTROL], capture_output=True, check=False)
    try:
        redis_pid = int(REDIS_PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        if Path(f"/proc/{redis_pid}/comm").read_text().startswith("redis-server"):
            os.kill(redis_pid, signal.SIGKILL)
    except OSError:
        pass
    REDIS_PIDFILE.unlink(missing_ok=True)


@pytest.fixture
def other_machine() -> Iterator[str]:
    """The namespace, reachable from here at HOST_IP; this side is CONTROL_IP."""
    remove_network()
    try:
        ip("netns", "add", NETNS)
        ip("link", "add", VETH_CONTROL, "type", "veth", "peer", "name", VETH_HOST, "netns", NETNS)
        ip("addr", "add", f"{CONTROL_IP}/{PREFIX_LENGTH}", "dev", VETH_CONTROL)
        ip("link", "set", VETH_CONTROL, "up")
        ip("-n", NETNS, "addr", "add", f"{HOST_IP}/{PREFIX_LENGTH}", "dev", VETH_HOST)
        ip("-n", NETNS, "link", "set", VETH_HOST, "up")
        ip("-n", NETNS, "link", "set", "lo", "up")  # its own loopback, as a machine has
        yield NETNS
    finally:
        remove_network()


# --- Redis with a password and TLS ----------------------------------------------------------------


# docs/operations.md's commands, run as written but for the machine's own paths, address and
# port: the control plane at 192.0.2.10 there is CONTROL_IP here.
TLS_SET_UP = ("docs/operations.md", "install -m 0644 ca.pem /etc/computecloud/redis-ca.pem")
TLS_PING = ("docs/operations.md", "-h 192.0.2.10 -p 6379 ping")


def as_here(text: str, directory: Path, **more: str) -> str:
    for shown, here in {
        "/etc/redis/tls": str(directory),
        "/etc/computecloud/redis-ca.pem": str(directory.parent / "redis-ca.pem"),
        "192.0.2.10": CONTROL_IP,
        **more,
    }.items():
        text = text.replace(shown, here)
    return text


def make_certificates(directory: Path) -> Path:
    """ca.pem, and redis.pem / redis.key for CONTROL_IP and 127.0.0.1, signed by it, and the
    CA's copy for the other processes: docs/operations.md's "Redis with a password and TLS"
    block. The CA's copy's path."""
    script = as_here(block(*TLS_SET_UP).text, directory)
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return directory.parent / "redis-ca.pem"


@dataclass
class TLSRedis:
    port: int
    password: str
    ca: Path
    process: subprocess.Popen[bytes]

    def url(self, address: str) -> str:
        return f"rediss://:{self.password}@{address}:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        REDIS_PIDFILE.unlink(missing_ok=True)


def start_redis(directory: Path) -> TLSRedis:
    """redis-server on CONTROL_IP and 127.0.0.1, TLS only, with a password."""
    ca = make_certificates(directory)
    port = free_port()
    password = uuid.uuid4().hex
    conf = directory / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                f"bind 127.0.0.1 {CONTROL_IP}",
                "port 0",
                f"tls-port {port}",
                f"tls-cert-file {directory / 'redis.pem'}",
                f"tls-key-file {directory / 'redis.key'}",
                f"tls-ca-cert-file {directory / 'ca.pem'}",
                "tls-auth-clients no",
                f"requirepass {password}",
                'save ""',
                "appendonly no",
                f"dir {directory}",
                f"pidfile {REDIS_PIDFILE}",
                "",
            ]
        )
    )
    conf.chmod(0o600)
    process = subprocess.Popen(
        ["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = TLSRedis(port=port, password=password, ca=ca, process=process)
    client = redis.Redis.from_url(
        server.url("127.0.0.1"), ssl_ca_certs=str(server.ca), ssl_cert_reqs="required"
    )

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError("redis-server exited")
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=30, what="the TLS redis-server")
    except BaseException:
        server.stop()
        raise
    finally:
        client.close()
    return server


# --- the two machines -----------------------------------------------------------------------------


@dataclass
class TwoMachines:
    processes: CloudProcesses
    redis: TLSRedis
    api_port: int
    host: str

    @property
    def api(self) -> str:
        return self.processes.public_url


@pytest.fixture
def two_machines(other_machine: str, transactional_db: None) -> Iterator[TwoMachines]:
    workdir = Path(tempfile.mkdtemp(prefix="cc-multihost-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    tls = workdir / "tls"
    tls.mkdir()
    server = start_redis(tls)
    api_port = free_port()
    tls_env = {"REDIS_TLS_CA": str(server.ca)}
    processes = CloudProcesses(
        public_url=f"http://{CONTROL_IP}:{api_port}",
        workdir=workdir,
        # The control plane's processes reach Redis on their own machine's loopback.
        broker_url=server.url("127.0.0.1"),
        metadata_url=f"http://{CONTROL_IP}:8775",
    )
    try:
        # On both addresses: 127.0.0.1 answers here, so that its silence in the namespace
        # says the namespace cannot reach it, not that nothing listens.
        processes.start_api(
            api_port,
            extra_args=["--bind", f"{CONTROL_IP}:{api_port}", "--access-logfile", "-"],
            extra_env={**tls_env, "ALLOWED_HOSTS": f"127.0.0.1,{CONTROL_IP}"},
        )
        processes.start_conductor(extra_env=tls_env)
        host = processes.start_compute(
            f"cc-remote-{uuid.uuid4().hex[:6]}",
            netns=other_machine,
            broker_url=server.url(CONTROL_IP),
            extra_env=tls_env,
        )
        yield TwoMachines(processes=processes, redis=server, api_port=api_port, host=host)
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()
        server.stop()
        forget_hosts(hosts)


# --- what each machine reaches --------------------------------------------------------------------

CONNECT = """
import json, socket, sys
result = {}
for target in sys.argv[1:]:
    address, port = target.rsplit(":", 1)
    try:
        socket.create_connection((address, int(port)), timeout=3).close()
        result[target] = "connected"
    except OSError as exc:
        result[target] = type(exc).__name__
print(json.dumps(result))
"""


def connects(targets: list[str], netns: str | None = None) -> dict[str, str]:
    """For each "address:port", "connected" or the error a TCP connect met."""
    command = [sys.executable, "-c", CONNECT, *targets]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return dict(json.loads(done.stdout))


def worker_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if item)


def test_a_compute_host_in_its_own_network_works_through_the_configured_addresses_only(
    two_machines: TwoMachines, tmp_path: Path
) -> None:
    cloud, host = two_machines, two_machines.host
    redis_port, api_port = cloud.redis.port, cloud.api_port
    loopback = [f"127.0.0.1:{redis_port}", f"127.0.0.1:{api_port}"]
    configured = [f"{CONTROL_IP}:{redis_port}", f"{CONTROL_IP}:{api_port}"]

    # given: an admin, the standard flavors, a public image; the API answering
    ensure_standard_flavors()
    project = ensure_project(name=f"multihost-{uuid.uuid4().hex[:6]}")
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["admin"])
    headers = {"X-Auth-Token": issue_token(user=user, project=project, methods=["password"]).token}
    image = ensure_image_from_file(
        name="tiny", path=tiny_qcow2(tmp_path), owner=project, visibility="public", properties={}
    )

    def api_answers() -> bool:
        cloud.processes.check_alive()
        try:
            return requests.get(f"{cloud.api}/compute/", timeout=5).ok
        except requests.RequestException:  # not listening yet, or its workers still loading
            return False

    wait_until(api_answers, timeout=60, what="the API")

    # then: the control plane's loopback answers here and not on the other machine, which
    # reaches Redis and the API only at the control plane's address
    assert connects(loopback + configured) == dict.fromkeys(loopback + configured, "connected")
    from_host = connects(loopback + configured, netns=NETNS)
    assert from_host == {
        **dict.fromkeys(loopback, "ConnectionRefusedError"),
        **dict.fromkeys(configured, "connected"),
    }
    # and docs/operations.md's check from a hypervisor gets through
    ping = as_here(
        block(*TLS_PING).text, Path(cloud.redis.ca).parent / "tls", PASSWORD=cloud.redis.password
    ).replace("-p 6379", f"-p {redis_port}")
    pinged = subprocess.run(
        ["ip", "netns", "exec", NETNS, "bash", "-e", "-c", ping],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pinged.stdout.strip() == "PONG", pinged.stderr
    # and the worker holds no database or Django secret, and names only the configured addresses
    worker = cloud.processes.compute_worker(host).process
    env = worker_environment(worker.pid)
    assert not {"DATABASE_URL", "SECRET_KEY", "DB_PASSWORD"} & env.keys()
    assert env["REDIS_URL"] == env["CELERY_BROKER_URL"] == cloud.redis.url(CONTROL_IP)
    assert env["CONTROL_PLANE_URL"] == f"http://{CONTROL_IP}:{api_port}"
    assert env["REDIS_URL"].startswith("rediss://:")

    # when: the host comes up, it registers through Redis
    cloud.processes.wait_hosts_ready([host])

    # then: its service is up in os-services, its hypervisor listed
    services = requests.get(
        f"{cloud.api}/compute/v2.1/os-services", headers={**headers, **COMPUTE}, timeout=30
    ).json()["services"]
    assert [(s["binary"], s["state"], s["status"]) for s in services if s["host"] == host] == [
        ("nova-compute", "up", "enabled")
    ]
    hypervisors = requests.get(
        f"{cloud.api}/compute/v2.1/os-hypervisors/detail",
        headers={**headers, **COMPUTE},
        timeout=30,
    ).json()["hypervisors"]
    assert [h["state"] for h in hypervisors if h["service"]["host"] == host] == ["up"]
    # the API's image URLs name the public address
    shown = requests.get(
        f"{cloud.api}/compute/v2.1/images/{image.id}", headers=headers, timeout=30
    ).json()["image"]
    hrefs = [link["href"] for link in shown["links"]]
    assert hrefs
    assert all(h.startswith(f"http://{CONTROL_IP}:{api_port}/") for h in hrefs), hrefs

    # when: a server is created through the API, no host named
    body = {
        "server": {
            "name": "remote",
            "imageRef": str(image.id),
            "flavorRef": "0",
            "networks": "none",
        }
    }
    created = requests.post(
        f"{cloud.api}/compute/v2.1/servers", json=body, headers={**headers, **COMPUTE}, timeout=30
    )
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]

    def server() -> dict[str, Any] | None:
        cloud.processes.check_alive()
        response = requests.get(
            f"{cloud.api}/compute/v2.1/servers/{server_id}",
            headers={**headers, **COMPUTE},
            timeout=30,
        )
        return response.json()["server"] if response.ok else None

    def settled() -> dict[str, Any] | None:
        found = server()
        if found and found["status"] in ("ACTIVE", "ERROR") and not found["OS-EXT-STS:task_state"]:
            return found
        return None

    try:
        active = wait_until(settled, timeout=120, interval=0.3, what=f"{server_id} ACTIVE")
    except TimeoutError:
        raise TimeoutError(cloud.processes.diagnostics()) from None

    # then: it was built on the other machine, which reported it ACTIVE and running
    assert active["status"] == "ACTIVE", active.get("fault")
    assert active["OS-EXT-SRV-ATTR:host"] == host
    assert active["OS-EXT-STS:power_state"] == 1
    # and the image was downloaded from the API at the public address, by the other machine
    downloads = [
        line
        for line in cloud.processes.workers["api"].log.read_text(errors="replace").splitlines()
        if f"/image/v2/images/{image.id}/file" in line
    ]
    assert downloads, cloud.processes.workers["api"].tail()
    assert all(re.match(rf"{re.escape(HOST_IP)} .*\" 200 ", line) for line in downloads), downloads

    # when: it is deleted
    deleted = requests.delete(
        f"{cloud.api}/compute/v2.1/servers/{server_id}", headers=headers, timeout=30
    )

    # then: the host deleted it and the conductor recorded it
    assert deleted.status_code == 204, deleted.text
    wait_until(lambda: server() is None, timeout=60, interval=0.3, what=f"{server_id} deleted")
    cloud.processes.check_alive()

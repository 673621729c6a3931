"""The metadata proxy of one network: 169.254.169.254:80 in the network's namespace,
forwarding each guest's request to the metadata service with the guest named and signed.

Run by the agent as ``python -m workers.network.metadata_proxy`` in the host's namespace: it
binds its listening socket inside the network's namespace (``--listen-netns``) and switches
back, so it hears only that network's guests and still reaches the metadata service, which
the namespace has no route to (by design: guests reach no host address).

A guest is known by its source address, looked up in the map the agent writes (address ->
instance id, project id); an address not in it gets 404 and nothing is forwarded. The request
goes on with Neutron's proxy headers, which the metadata service trusts
(apps/metadata/services.py): X-Instance-ID, X-Tenant-ID, X-Instance-ID-Signature (hex
HMAC-SHA256 of the instance id keyed with the shared secret) and X-Forwarded-For.

Standard library only: it runs as its own small process per network. What a guest sends is
logged only as a repr, so a log line stays one line.
"""

import argparse
import ctypes
import hashlib
import hmac
import http.client
import json
import logging
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("workers.network.metadata_proxy")

CLONE_NEWNET = 0x40000000
# A guest's request body is small (a password post at most); refuse the rest unread.
MAX_BODY = 64 * 1024
UPSTREAM_TIMEOUT = 30
# Response headers passed back to the guest as they came.
PASSED_HEADERS = ("Content-Type", "Last-Modified", "ETag")


def sign(instance_id: str, secret: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def listen_in(netns: str | None, address: str, port: int) -> socket.socket:
    """A listening socket bound in the named namespace (None: this one); the process stays
    in its own namespace. Call before any thread starts: setns is per thread."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if netns:
            target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
        finally:
            if netns:
                _setns(own)
    finally:
        os.close(own)
    return sock


class Upstream:
    def __init__(self, url: str, secret: str, map_file: Path) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.base = parts.path.rstrip("/")
        self.secret = secret
        self.map_file = map_file

    def instance_of(self, address: str) -> dict[str, str] | None:
        """The map is read for each request: the agent rewrites it as ports come and go."""
        try:
            entry = json.loads(self.map_file.read_text()).get(address)
        except (FileNotFoundError, ValueError):
            return None
        return entry if isinstance(entry, dict) else None

    def connection(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=UPSTREAM_TIMEOUT)
        return http.client.HTTPConnection(self.host, self.port, timeout=UPSTREAM_TIMEOUT)


class ProxyHandler(BaseHTTPRequestHandler):
    server: "ProxyServer"
    protocol_version = "HTTP/1.0"
    # Seconds a guest may take to send its request: one that stalls does not hold a thread.
    timeout = 10

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {"Content-Type": "text/plain"}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self) -> None:
        upstream = self.server.upstream
        address = self.client_address[0]
        if not self.path.startswith("/"):
            self._reply(400, b"Bad Request\n")
            return
        instance = upstream.instance_of(address)
        if instance is None:
            logger.info("metadata request from %s refused: no instance there", address)
            self._reply(404, b"Not Found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, b"Request Entity Too Large\n")
            return
        body = self.rfile.read(length) if length else None
        instance_id = instance["instance_id"]
        headers = {
            "X-Instance-ID": instance_id,
            "X-Tenant-ID": instance["project_id"],
            "X-Instance-ID-Signature": sign(instance_id, upstream.secret),
            "X-Forwarded-For": address,
        }
        if self.headers.get("Content-Type"):
            headers["Content-Type"] = self.headers["Content-Type"]
        connection = upstream.connection()
        try:
            connection.request(self.command, upstream.base + self.path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except OSError as exc:
            logger.warning("metadata request of %s to the service failed: %s", instance_id, exc)
            self._reply(502, b"Bad Gateway\n")
            return
        finally:
            connection.close()
        passed = {h: response.headers[h] for h in PASSED_HEADERS if response.headers.get(h)}
        self._reply(response.status, content, passed)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line is the guest's: logged as a repr, so it stays one line of ours.
        logger.debug("%s %r", self.client_address[0], format % args)


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket, upstream: Upstream) -> None:
        super().__init__(sock.getsockname(), ProxyHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.upstream = upstream


def _daemonize(pid_file: Path, log_file: Path | None) -> None:
    """Fork; the parent writes the child's pid and exits 0, so whoever ran us knows the
    socket is listening when we return."""
    pid = os.fork()
    if pid:
        pid_file.write_text(f"{pid}\n")
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640) if log_file else devnull
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--listen-netns", help="the namespace to listen in")
    parser.add_argument("--listen-address", default="169.254.169.254")
    parser.add_argument("--listen-port", type=int, default=80)
    parser.add_argument("--config", type=Path, required=True, help="JSON: url, secret")
    parser.add_argument("--map", type=Path, required=True, help="JSON: address -> instance")
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("--log-file", type=Path)
    args = parser.parse_args(argv)

    config = json.loads(args.config.read_text())
    upstream = Upstream(config["url"], config["secret"], args.map)
    sock = listen_in(args.listen_netns, args.listen_address, args.listen_port)
    if args.pid_file:
        _daemonize(args.pid_file, args.log_file)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logger.info(
        "metadata proxy listening on %s:%d in %s, forwarding to %s",
        args.listen_address,
        args.listen_port,
        args.listen_netns or "its own namespace",
        config["url"],
    )
    ProxyServer(sock, upstream).serve_forever()


if __name__ == "__main__":
    main()

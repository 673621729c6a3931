"""A minimal websocket client (RFC 6455) over a raw socket, for talking to the console proxy.

No websocket client package is installed, and websockify's own client drops the query string
(where the token travels). This one sends exactly the request a browser would (path with
query, Origin, subprotocol "binary") and reads the proxy's frames.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field
from pathlib import Path

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ConnectionClosed(Exception):
    pass


@dataclass
class WebSocketResponse:
    """The proxy's answer to an upgrade request; `ws` is set only when it was accepted (101)."""

    status: int
    headers: dict[str, str]
    body: bytes
    ws: WebSocket | None = None


@dataclass
class WebSocket:
    sock: socket.socket
    buffer: bytes = field(default=b"")

    def _read_exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("socket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def recv_message(self) -> bytes:
        """The next data message (text or binary); answers pings; raises on close."""
        while True:
            first, second = self._read_exact(2)
            opcode = first & 0x0F
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read_exact(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read_exact(8))
            mask = self._read_exact(4) if second & 0x80 else None
            payload = self._read_exact(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionClosed(payload[2:].decode(errors="replace"))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x1, 0x2):
                return payload

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_binary(self, payload: bytes) -> None:
        self._send_frame(0x2, payload)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, struct.pack("!H", 1000))
        self.sock.close()


def connect(
    host: str,
    port: int,
    path: str,
    *,
    origin: str | None = None,
    timeout: float = 10,
    tls_ca: Path | None = None,
) -> WebSocketResponse:
    """Send a websocket upgrade for `path` (e.g. ``/?token=...``) and read the answer.

    With `tls_ca` the connection is TLS (wss://), verified against that CA certificate.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls_ca is not None:
        context = ssl.create_default_context(cafile=str(tls_ca))
        sock = context.wrap_socket(sock, server_hostname=host)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: binary",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    received = b""
    while b"\r\n\r\n" not in received:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            # Closed without an HTTP answer (e.g. plain text sent to a TLS-only proxy).
            sock.close()
            return WebSocketResponse(status=0, headers={}, body=received)
        received += chunk
    head, rest = received.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status != 101:
        # An error page follows; read it to the end (the proxy closes the connection).
        try:
            while chunk := sock.recv(65536):
                rest += chunk
        except OSError:
            pass
        sock.close()
        return WebSocketResponse(status=status, headers=headers, body=rest)
    expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
    if headers.get("sec-websocket-accept") != expected:
        sock.close()
        raise ConnectionError("bad Sec-WebSocket-Accept from the proxy")
    return WebSocketResponse(
        status=status, headers=headers, body=b"", ws=WebSocket(sock=sock, buffer=rest)
    )

"""Image data between a compute host and the control plane: streamed HTTP(S) downloads and
uploads, to and from the control plane's own base URL only.

A host is sent URLs in task payloads (signed image URLs from the conductor). Whoever can
put a message on a host's queue must not be able to make the host read its own files
(``file://``), reach another machine on its network, or send a guest's disk elsewhere, so
every URL is checked against the one configured origin (scheme, host, port and base path)
before anything is opened, redirects included. Only http and https handlers exist in the
opener: no file, ftp or data URLs whatever the check says. Plain Python, no Django.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any

CHUNK = 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRefused(ValueError):
    """A URL outside the control plane's base URL; nothing was opened."""


def redact_url(url: str) -> str:
    """The URL without query or fragment: signed URLs carry their signature there."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class ControlPlane:
    """The one origin (and path prefix) a host exchanges image data with."""

    scheme: str
    host: str
    port: int
    path: str  # no trailing slash; "" for the root

    @classmethod
    def from_url(cls, base_url: str) -> ControlPlane:
        """Parse the configured base URL; ValueError unless it is a plain http(s) URL."""
        parts = urllib.parse.urlsplit(base_url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                f"the control plane URL must be http(s)://host[:port], not {base_url!r}"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("the control plane URL takes no user, query or fragment")
        return cls(
            scheme=scheme,
            host=parts.hostname.lower(),
            port=parts.port or _DEFAULT_PORTS[scheme],
            path=parts.path.rstrip("/"),
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"

    def check(self, url: str) -> None:
        """UrlRefused unless `url` is under this base URL (same scheme, host, port, path)."""
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:  # a port that is not a number
            raise UrlRefused(f"{redact_url(url)!r} is not a valid URL") from None
        scheme = parts.scheme.lower()
        if (
            scheme != self.scheme
            or (parts.hostname or "").lower() != self.host
            or (port or _DEFAULT_PORTS.get(scheme)) != self.port
            or parts.username is not None
            or parts.password is not None
            or not (parts.path == self.path or parts.path.startswith(self.path + "/"))
            or "/../" in parts.path + "/"
        ):
            raise UrlRefused(
                f"{redact_url(url)!r} is not under the control plane's URL {self.url!r}"
            )

    def open(
        self,
        url: str,
        *,
        method: str = "GET",
        data: IO[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float,
    ) -> Any:
        """The response to one request to `url` (checked first, redirects too)."""
        self.check(url)
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310 -- checked above: http(s) to the control plane only
        return self._opener().open(request, timeout=timeout)

    def _opener(self) -> urllib.request.OpenerDirector:
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(),
            _CheckedRedirects(self),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        return opener


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same control plane."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        self.control_plane.check(urllib.parse.urljoin(req.full_url, newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(
    url: str,
    dest: Path,
    *,
    control_plane: ControlPlane,
    algorithms: Iterable[str] = (),
    timeout: float,
) -> tuple[int, dict[str, str]]:
    """Stream `url` into `dest`; return its size and hex digests.

    Raises UrlRefused (nothing opened), OSError or urllib.error.URLError.
    """
    hashers = {algo: hashlib.new(algo, usedforsecurity=False) for algo in algorithms}
    size = 0
    headers = {"Accept": "application/octet-stream"}
    with (
        control_plane.open(url, headers=headers, timeout=timeout) as response,
        dest.open("wb") as out,
    ):
        while chunk := response.read(CHUNK):
            out.write(chunk)
            size += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, {algo: hasher.hexdigest() for algo, hasher in hashers.items()}


def upload(url: str, path: Path, *, control_plane: ControlPlane, timeout: float) -> None:
    """PUT the file at `path` to `url`, streamed from disk.

    Raises UrlRefused (nothing opened or sent), OSError or urllib.error.URLError.
    """
    control_plane.check(url)
    size = path.stat().st_size
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    with (
        path.open("rb") as body,
        control_plane.open(
            url, method="PUT", data=body, headers=headers, timeout=timeout
        ) as response,
    ):
        response.read()

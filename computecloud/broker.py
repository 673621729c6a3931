"""How processes reach Redis (Celery's broker and results, the Django cache) over TLS.

Redis always asks for a password (set-up generates it; REDIS_URL carries it). Across hosts
the password and every task would otherwise cross the network in clear text, so a
``rediss://`` URL switches to TLS: the server's certificate is verified against
``REDIS_TLS_CA`` (the system's authorities when empty), and ``REDIS_TLS_CERT`` /
``REDIS_TLS_KEY`` present a client certificate to a server that asks for one.

Shared by the control plane's settings and the Django-free compute worker: no Django here.
Plain ``redis://`` URLs get no options at all.
"""

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RedisTLS:
    """Certificate files for ``rediss://`` connections (paths; empty: not given)."""

    ca: str = ""
    cert: str = ""
    key: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "RedisTLS":
        return cls(
            ca=env.get("REDIS_TLS_CA", ""),
            cert=env.get("REDIS_TLS_CERT", ""),
            key=env.get("REDIS_TLS_KEY", ""),
        )


def ssl_options(url: str, tls: RedisTLS) -> dict[str, Any] | None:
    """redis-py's connection keywords for `url`: what Celery takes as ``broker_use_ssl`` and
    ``redis_backend_use_ssl`` and Django's cache as OPTIONS. None unless `url` is TLS."""
    if not url.startswith("rediss://"):
        return None
    # Never CERT_NONE: an unverified server could be anyone's, and would get the password.
    options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    if tls.ca:
        options["ssl_ca_certs"] = tls.ca
    if tls.cert:
        options["ssl_certfile"] = tls.cert
    if tls.key:
        options["ssl_keyfile"] = tls.key
    return options


def celery_config(*, broker_url: str, result_backend: str, tls: RedisTLS) -> dict[str, Any]:
    """The Celery settings that carry TLS for these URLs (empty for plain ``redis://``)."""
    config: dict[str, Any] = {}
    broker = ssl_options(broker_url, tls)
    if broker is not None:
        config["broker_use_ssl"] = broker
    backend = ssl_options(result_backend, tls)
    if backend is not None:
        config["redis_backend_use_ssl"] = backend
    return config

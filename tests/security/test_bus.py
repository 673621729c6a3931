"""The message bus asks for a password; across hosts it speaks TLS.

Redis carries every task (build this server, delete that one): whoever can publish there
commands the conductor and the compute hosts. Set-up gives Redis a password (REDIS_PASSWORD
in .env, scripts/services.sh) and REDIS_URL carries it. A ``rediss://`` URL turns on TLS,
verified against REDIS_TLS_CA (computecloud/broker.py).
"""

import datetime
import ipaddress
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery import Celery
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from kombu.exceptions import OperationalError

from computecloud import broker, queues
from tests.harness import ROOT, wait_until

PROBE_TASK = "conductor.expire_stuck_builds"


def without_password(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port or 6379}"))


def publisher(broker_url: str, **conf: Any) -> Celery:
    """A Celery app configured as ours (topology, JSON), publishing to `broker_url`."""
    app = Celery("probe", broker=broker_url, set_as_current=False)
    app.conf.update(queues.COMMON_CONFIG, broker_connection_timeout=5, **conf)
    return app


def probe_queue() -> str:
    return f"security-probe-{uuid.uuid4().hex[:12]}"


# --- the password -------------------------------------------------------------------------------


def test_redis_refuses_a_client_without_the_password() -> None:
    # given
    url = urlsplit(settings.REDIS_URL)
    key = f"security-probe-{uuid.uuid4().hex[:12]}"
    authenticated = redis.Redis.from_url(settings.REDIS_URL)

    # when: a client speaks to Redis without AUTH (raw protocol: Redis's own answer)
    with socket.create_connection((url.hostname, url.port or 6379), timeout=10) as conn:
        conn.sendall(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n$1\r\nx\r\n".encode())
        answer = conn.recv(256)

    # then: refused, and nothing written
    assert answer.startswith(b"-NOAUTH"), answer
    assert authenticated.exists(key) == 0
    # a guessed password is refused as well; the right one is accepted
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=url.hostname, port=url.port or 6379, password="guess").ping()
    assert authenticated.ping() is True


def test_celery_without_the_password_cannot_publish() -> None:
    # given: our Celery configuration, with a URL that lacks the password
    queue = probe_queue()
    intruder = publisher(without_password(settings.CELERY_BROKER_URL))
    authenticated = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    # when
    with pytest.raises(OperationalError, match=r"(?i)auth"):
        intruder.send_task(PROBE_TASK, queue=queue, retry=False)

    # then: nothing reached the queue; the same call with the password does
    assert authenticated.llen(queue) == 0
    try:
        publisher(settings.CELERY_BROKER_URL).send_task(PROBE_TASK, queue=queue, retry=False)
        assert authenticated.llen(queue) == 1
    finally:
        authenticated.delete(queue)


# --- TLS: settings ------------------------------------------------------------------------------

SETTINGS_PROBE = """
import json
from redis import Connection
from django.conf import settings
from computecloud.celery import app
from workers.compute.app import app as compute

def ssl(options):
    if not options:
        return options
    return {k: int(v) if k == "ssl_cert_reqs" else v for k, v in options.items()}

print(json.dumps({
    "broker_use_ssl": ssl(app.conf.broker_use_ssl),
    "redis_backend_use_ssl": ssl(app.conf.redis_backend_use_ssl),
    "backend_connection": (app.backend.connparams.get("connection_class") or Connection).__name__,
    "cache": ssl(settings.CACHES["default"].get("OPTIONS")),
    "compute_broker_use_ssl": ssl(compute.conf.broker_use_ssl),
    "compute_redis_backend_use_ssl": ssl(compute.conf.redis_backend_use_ssl),
}))
"""


def celery_settings(env: dict[str, str]) -> dict[str, Any]:
    """What the control plane's and the compute worker's Celery apps make of `env`, read in
    a fresh process (settings are read once per process); nothing connects."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_"))}
    base.pop("CACHE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_PROBE],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_rediss_url_gives_celery_and_the_cache_verified_tls() -> None:
    # when
    produced = celery_settings(
        {
            "REDIS_URL": "rediss://:secret@redis.internal:6380/0",
            "REDIS_TLS_CA": "/etc/computecloud/redis-ca.pem",
            "REDIS_TLS_CERT": "/etc/computecloud/client.pem",
            "REDIS_TLS_KEY": "/etc/computecloud/client.key",
        }
    )

    # then: every client verifies the server against the CA and shows its certificate
    expected = {
        "ssl_cert_reqs": 2,  # ssl.CERT_REQUIRED
        "ssl_ca_certs": "/etc/computecloud/redis-ca.pem",
        "ssl_certfile": "/etc/computecloud/client.pem",
        "ssl_keyfile": "/etc/computecloud/client.key",
    }
    assert produced == {
        "broker_use_ssl": expected,
        "redis_backend_use_ssl": expected,
        "backend_connection": "SSLConnection",
        "cache": expected,
        "compute_broker_use_ssl": expected,
        "compute_redis_backend_use_ssl": expected,
    }


def test_a_redis_url_gives_no_tls_options() -> None:
    # when
    produced = celery_settings(
        {"REDIS_URL": "redis://:secret@127.0.0.1:6379/0", "REDIS_TLS_CA": "/ignored.pem"}
    )

    # then
    assert produced["broker_use_ssl"] in (None, False)
    assert produced["redis_backend_use_ssl"] in (None, False)
    assert produced["backend_connection"] == "Connection"
    assert produced["cache"] == {}
    assert produced["compute_broker_use_ssl"] in (None, False)


# --- TLS: a real Redis that speaks only TLS -------------------------------------------------------


@dataclass
class TLSRedis:
    port: int
    password: str
    ca: Path

    @property
    def url(self) -> str:
        return f"rediss://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self, url: str) -> redis.Redis:
        """A client that trusts the server's CA (to look at what arrived)."""
        return redis.Redis.from_url(url, ssl_ca_certs=str(self.ca), ssl_cert_reqs="required")


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TLSRedis]:
    """A private redis-server with a password, listening on TLS only (a server certificate
    signed by a throw-away CA)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe CA")])
    ca_cert = _certificate("probe CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("127.0.0.1", key, ca_name, ca_key, ca=False)
    ca = _pem(tmp_path / "ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM))
    server_cert = _pem(tmp_path / "server.pem", cert.public_bytes(serialization.Encoding.PEM))
    server_key = _pem(
        tmp_path / "server.key",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    password = uuid.uuid4().hex
    process = subprocess.Popen(
        [
            *("redis-server", "-", "--port", "0", "--bind", "127.0.0.1"),
            *("--tls-port", str(port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(server_cert), "--tls-key-file", str(server_key)),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(f"requirepass {password}\n".encode())
    process.stdin.close()
    server = TLSRedis(port=port, password=password, ca=ca)
    client = server.client(server.url)
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError("redis-server exited")
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=30, interval=0.1, what="the TLS redis-server")
        yield server
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def test_celery_publishes_over_verified_tls_and_refuses_an_unknown_server(
    tls_redis: TLSRedis,
) -> None:
    # given: our settings' options for the TLS URL, with the CA and without it
    queue = probe_queue()
    trusted = broker.celery_config(
        broker_url=tls_redis.url,
        result_backend=tls_redis.url,
        tls=broker.RedisTLS(ca=str(tls_redis.ca)),
    )
    untrusted = broker.celery_config(
        broker_url=tls_redis.url, result_backend=tls_redis.url, tls=broker.RedisTLS()
    )
    reader = tls_redis.client(tls_redis.url)

    # when: without the CA, the server's certificate cannot be verified. (Database 1: kombu
    # shares producer pools between apps whose URLs match, whatever their TLS options.)
    untrusted_url = tls_redis.url.removesuffix("/0") + "/1"
    with pytest.raises(OperationalError, match=r"(?i)certificate verify failed"):
        publisher(untrusted_url, **untrusted).send_task(PROBE_TASK, queue=queue, retry=False)
    assert reader.llen(queue) == 0
    with tls_redis.client(untrusted_url) as other:
        assert other.llen(queue) == 0

    # then: with it, the task goes through TLS (the server listens on nothing else)
    publisher(tls_redis.url, **trusted).send_task(PROBE_TASK, queue=queue, retry=False)
    assert reader.llen(queue) == 1

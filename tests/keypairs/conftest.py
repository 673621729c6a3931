"""Key pair fixtures: real keys from ssh-keygen and openssl, and their fingerprints as those
tools compute them (the oracle our fingerprints are checked against)."""

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class SshKey:
    public_key: str  # the .pub file's content, newline included (what clients upload)
    md5_fingerprint: str  # as `ssh-keygen -l -E md5` prints it, without "MD5:"
    path: Path  # the .pub file


@pytest.fixture
def ssh_key(tmp_path: Path) -> Callable[..., SshKey]:
    counter = iter(range(1000))

    def make(key_type: str = "ed25519", comment: str = "tester@example") -> SshKey:
        path = tmp_path / f"key-{next(counter)}"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", comment, "-f", str(path)],
            check=True,
        )
        listed = subprocess.run(
            ["ssh-keygen", "-l", "-E", "md5", "-f", f"{path}.pub"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        fingerprint = listed.split()[1].removeprefix("MD5:")
        return SshKey(Path(f"{path}.pub").read_text(), fingerprint, Path(f"{path}.pub"))

    return make


@dataclass(frozen=True)
class Certificate:
    pem: str
    sha1_fingerprint: str  # as `openssl x509 -fingerprint -sha1` prints it, lower case


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    key, cert = tmp_path / "c.key", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-nodes",
            "-days",
            "1",
            "-newkey",
            "rsa:2048",
            "-subj",
            "/CN=tester",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    printed = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", str(cert)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Certificate(cert.read_text(), printed.strip().split("=", 1)[1].lower())

"""Real keys from ssh-keygen and openssl, and their fingerprints as those tools compute them
(the oracle our fingerprints are checked against)."""

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SshKey:
    public_key: str  # the .pub file's content, newline included (what clients upload)
    md5_fingerprint: str  # as `ssh-keygen -l -E md5` prints it, without "MD5:"
    path: Path  # the .pub file


@dataclass(frozen=True)
class Certificate:
    pem: str
    sha1_fingerprint: str  # as `openssl x509 -fingerprint -sha1` prints it, lower case


def make_ssh_key(directory: Path, key_type: str = "ed25519", comment: str = "t@example") -> SshKey:
    path = directory / f"key-{uuid.uuid4().hex[:8]}"
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
    public = Path(f"{path}.pub")
    return SshKey(public.read_text(), fingerprint, public)


def make_certificate(directory: Path) -> Certificate:
    key, cert = directory / "c.key", directory / "c.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "1", "-newkey", "rsa:2048",
            "-subj", "/CN=tester", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    printed = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", str(cert)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Certificate(cert.read_text(), printed.strip().split("=", 1)[1].lower())

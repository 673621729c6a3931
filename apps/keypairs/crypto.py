"""Key material: validation, fingerprints and generation, as Nova computes them (nova/crypto.py),
with the `cryptography` library. No database, no policy: pure functions.

- ssh: the key must load as an OpenSSH public key; the fingerprint is the MD5 of the base64
  key blob, as colon-separated hex (``ssh-keygen -E md5 -l``).
- x509: the key must load as a PEM certificate; the fingerprint is its SHA-1, colon hex.
- Generated ssh keys are RSA 2048 with the comment ``Generated-by-Nova``; the private key is
  PEM (traditional "RSA PRIVATE KEY"), as Nova returns it.
- Generated x509 pairs are a self-signed client certificate for ``CN=<user id>`` and, as the
  private key, the base64 of a password-less PKCS#12 bundle (Nova's WinRM certificates).
"""

import base64
import binascii
import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from computecloud.exceptions import InvalidInput

KEY_BITS = 2048
# Microsoft's User Principal Name, the subject alternative name WinRM matches users by.
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


class InvalidKeypair(InvalidInput):
    msg_fmt = "Keypair data is invalid: %(reason)s"


def _colon_hex(digest: bytes) -> str:
    text = digest.hex()
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def ssh_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint of an OpenSSH public key; `InvalidKeypair` (400) says why not."""
    try:
        serialization.load_ssh_public_key(public_key.encode())
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except UnsupportedAlgorithm:
        key_type = public_key.split()[0]
        raise InvalidKeypair(
            reason=f"failed to generate fingerprint: unsupported key type {key_type!r}"
        ) from None
    except (ValueError, IndexError, binascii.Error) as exc:
        raise InvalidKeypair(
            reason=f"failed to generate fingerprint: not an OpenSSH public key ({exc})"
        ) from None
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(certificate: str) -> str:
    """The SHA-1 fingerprint of a PEM certificate; `InvalidKeypair` (400) says why not."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError as exc:
        raise InvalidKeypair(
            reason=f"failed to generate X509 fingerprint. Error message: {exc}"
        ) from None
    # SHA-1 is what Nova reports: a name for the certificate, not a security decision.
    return _colon_hex(cert.fingerprint(hashes.SHA1()))  # noqa: S303


def generate_ssh_key_pair() -> tuple[str, str, str]:
    """A new RSA key pair: (private key PEM, OpenSSH public key, fingerprint)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public_openssh = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    public = f"{public_openssh} Generated-by-Nova"
    return private, public, ssh_fingerprint(public)


def generate_x509_key_pair(user_id: str) -> tuple[str, str, str]:
    """A self-signed client certificate for `user_id`: (base64 PKCS#12, PEM, fingerprint)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.datetime.now(datetime.UTC)
    upn = x509.OtherName(UPN_OID, _der_utf8(f"{user_id}@localhost"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([upn]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    return base64.b64encode(bundle).decode(), certificate, x509_fingerprint(certificate)


def _der_utf8(text: str) -> bytes:
    """DER encoding of a UTF8String (what openssl writes for ``otherName:...;UTF8:``)."""
    data = text.encode()
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    length = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + data

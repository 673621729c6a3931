"""Key pair writes and lookups: import, generate, delete (Nova's KeypairAPI).

Key pairs belong to users, not projects. Creating one locks the owning User row, counts the
user's key pairs against the ``key_pairs`` quota and inserts, in one transaction, so that
concurrent creates cannot exceed the quota.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from apps.identity.models import User
from apps.keypairs import crypto
from apps.keypairs.exceptions import KeyPairExists, KeypairNotFound, KeypairUserNotFound
from apps.keypairs.models import KeyPair, KeyPairType
from apps.quotas.services import check_key_pair_quota


@dataclass(frozen=True)
class CreatedKeyPair:
    """A new key pair and, when we generated it, the private key (shown once, never kept)."""

    keypair: KeyPair
    private_key: str | None


def count_key_pairs(user_id: str) -> int:
    """The user's key pairs (the ``key_pairs`` quota's usage, counted per user)."""
    return KeyPair.objects.filter(user_id=user_id).count()


def fingerprint(*, public_key: str, key_type: str) -> str:
    """Validate `public_key` for its type and return Nova's fingerprint (400 when invalid)."""
    if key_type == KeyPairType.X509:
        return crypto.x509_fingerprint(public_key)
    return crypto.ssh_fingerprint(public_key)


def _insert(
    *,
    user_id: str,
    project_id: str | None,
    name: str,
    key_type: str,
    public_key: str,
    fingerprint: str,
) -> KeyPair:
    with transaction.atomic():
        # The user's row is the lock that serialises their key pair creates (quota per user).
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise KeypairUserNotFound(user_id=user_id)
        if KeyPair.objects.filter(user=user, name=name).exists():
            raise KeyPairExists(key_name=name)
        check_key_pair_quota(limit_project_id=project_id, used=count_key_pairs(user_id))
        try:
            with transaction.atomic():
                return KeyPair.objects.create(
                    user=user,
                    name=name,
                    type=key_type,
                    public_key=public_key,
                    fingerprint=fingerprint,
                )
        except IntegrityError:  # cannot happen under the lock; kept as the last guard
            raise KeyPairExists(key_name=name) from None


def import_key_pair(
    *,
    user_id: str,
    project_id: str | None,
    name: str,
    public_key: str,
    key_type: str = KeyPairType.SSH,
) -> KeyPair:
    """Store `user_id`'s public key (or x509 certificate) as key pair `name`.

    `project_id` is the caller's project, whose ``key_pairs`` quota applies (as in Nova).
    """
    return _insert(
        user_id=user_id,
        project_id=project_id,
        name=name,
        key_type=key_type,
        public_key=public_key,
        fingerprint=fingerprint(public_key=public_key, key_type=key_type),
    )


def create_key_pair(
    *, user_id: str, project_id: str | None, name: str, key_type: str = KeyPairType.SSH
) -> CreatedKeyPair:
    """Generate a key pair for `user_id` (Nova before 2.92); the private key is returned once."""
    if key_type == KeyPairType.X509:
        private_key, public_key, fp = crypto.generate_x509_key_pair(user_id)
    else:
        private_key, public_key, fp = crypto.generate_ssh_key_pair()
    keypair = _insert(
        user_id=user_id,
        project_id=project_id,
        name=name,
        key_type=key_type,
        public_key=public_key,
        fingerprint=fp,
    )
    return CreatedKeyPair(keypair=keypair, private_key=private_key)


def get_key_pair(*, user_id: str, name: str) -> KeyPair:
    keypair = KeyPair.objects.filter(user_id=user_id, name=name).first()
    if keypair is None:
        raise KeypairNotFound(name=name, user_id=user_id)
    return keypair


def get_public_key(*, user_id: str, name: str) -> str | None:
    """The public key of `user_id`'s key pair `name`, or None (what a server build injects)."""
    return (
        KeyPair.objects.filter(user_id=user_id, name=name)
        .values_list("public_key", flat=True)
        .first()
    )


def delete_key_pair(*, user_id: str, name: str) -> None:
    deleted, _ = KeyPair.objects.filter(user_id=user_id, name=name).delete()
    if not deleted:
        raise KeypairNotFound(name=name, user_id=user_id)

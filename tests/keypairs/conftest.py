"""Key pair fixtures: real keys made by ssh-keygen and openssl (see tests.keypairs.keys)."""

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.keypairs.keys import Certificate, SshKey, make_certificate, make_ssh_key

__all__ = ["Certificate", "SshKey"]


@pytest.fixture
def ssh_key(tmp_path: Path) -> Callable[..., SshKey]:
    """``ssh_key("rsa")``: a new key pair of that type, its .pub and its MD5 fingerprint."""
    return partial(make_ssh_key, tmp_path)


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: SettingsWrapper) -> None:
    """Users here never log in by password; PBKDF2's deliberate 0.3 s per user is waste."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

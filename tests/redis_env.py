"""pytest plugin (``-p tests.redis_env`` in pyproject): the tests' Redis, chosen before Django
reads its settings.

Tests never share queues or cache keys with a running system: they use database 3 of the Redis
that .env's REDIS_URL names, with the password set-up wrote there, unless REDIS_URL is already
in the environment (an engineer's own database). A plugin rather than a conftest because
pytest-django reads the settings before any conftest is imported.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS_REDIS_DB = 3
# No .env (or none readable): the machine's Redis without a password, which then refuses.
FALLBACK_URL = "redis://127.0.0.1:6379/0"


def with_db(url: str, db: int) -> str:
    """`url`, naming Redis database `db` instead of its own (password and TLS kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


def dotenv_value(name: str) -> str | None:
    """`name`'s value in .env, read as scripts/lib.sh's env_get does (the last line wins)."""
    try:
        lines = (ROOT / ".env").read_text().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            found = value.strip().strip("'\"")
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    if "REDIS_URL" not in os.environ:
        base = dotenv_value("REDIS_URL") or FALLBACK_URL
        os.environ["REDIS_URL"] = with_db(base, TESTS_REDIS_DB)

"""Fixtures of the conductor tests that run a real cloud (tests/cloud.py)."""

from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures

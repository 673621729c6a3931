"""Fixtures for the attack tests: the running cloud (real conductor and compute workers)."""

from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures

"""Fixtures for the attack tests: the running cloud (real conductor and compute workers), and
project A with one of everything a project owns (tests/security/objects.py)."""

from typing import Any

import pytest

from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures
from tests.security.objects import project_a_objects


@pytest.fixture
def project_a(make_caller: Any, admin: Any) -> dict[str, Any]:
    """Project A's objects, made by its member (`member`): the path value each parameter takes
    (`values`), and every text of A's that another project must never see (`markers`)."""
    a = make_caller("member")
    return {**project_a_objects(a, admin), "member": a}

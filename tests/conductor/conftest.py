from pathlib import Path

import pytest

from apps.flavors.services import ensure_standard_flavors
from apps.identity.services import ensure_project
from apps.images.services import ensure_image_from_file
from tests.cloud import tiny_qcow2


@pytest.fixture
def image_id(tmp_path: Path) -> str:
    """The standard flavors and a tiny public image, for tests that create servers."""
    ensure_standard_flavors()
    image = ensure_image_from_file(
        name="tiny",
        path=tiny_qcow2(tmp_path),
        owner=ensure_project(name="images"),
        visibility="public",
        properties={},
    )
    return str(image.id)

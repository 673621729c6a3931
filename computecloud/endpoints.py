"""Public URLs of the services computecloud serves.

Every URL derives from ``settings.PUBLIC_URL`` (what clients reach), so the identity catalog,
version documents and ``WWW-Authenticate`` all agree. Compute is the versioned
``…/compute/v2.1`` without a project id, image and network are unversioned (what the clients
expect: they append ``v2``/``v2.0`` themselves).
"""

from django.conf import settings


def identity_public_url() -> str:
    return f"{settings.PUBLIC_URL}/identity"


def compute_public_url() -> str:
    return f"{settings.PUBLIC_URL}/compute/v2.1"


def image_public_url() -> str:
    return f"{settings.PUBLIC_URL}/image"


def network_public_url() -> str:
    return f"{settings.PUBLIC_URL}/network"


def volume_public_url() -> str:
    """Versioned, without a project id: Tempest appends ``volumes`` to the catalog URL."""
    return f"{settings.PUBLIC_URL}/volume/v3"

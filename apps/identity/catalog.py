"""Public URLs of the services computecloud serves, and the service catalog that lists them.

Every URL derives from ``settings.PUBLIC_URL`` (what clients reach), so the catalog, version
documents and ``WWW-Authenticate`` all agree. Rules the clients impose (measured, see
KEYSTONE-SUBSET.md §3.3): compute is the versioned ``…/compute/v2.1`` without a project id,
image is unversioned, every endpoint carries both ``region`` and ``region_id``, and only
services that exist are listed (no network or volume).
"""

import uuid
from typing import Any

from django.conf import settings

from computecloud.conf import cc_settings

INTERFACES = ("public", "internal", "admin")
_NAMESPACE = uuid.UUID("1d3c6c52-8a0f-4f43-9a53-58a1b3f8b0c1")


def identity_public_url() -> str:
    return f"{settings.PUBLIC_URL}/identity"


def compute_public_url() -> str:
    return f"{settings.PUBLIC_URL}/compute/v2.1"


def image_public_url() -> str:
    return f"{settings.PUBLIC_URL}/image"


# (type, name, URL): the catalog, in the order Keystone lists it.
SERVICES = (
    ("identity", "keystone", identity_public_url),
    ("compute", "nova", compute_public_url),
    ("image", "glance", image_public_url),
)


def _stable_id(*parts: str) -> str:
    """Service and endpoint ids that stay the same across restarts and processes."""
    return uuid.uuid5(_NAMESPACE, ":".join(parts)).hex


def service_catalog() -> list[dict[str, Any]]:
    """The Keystone v3 catalog: every service with a public, internal and admin endpoint."""
    region = cc_settings.REGION
    catalog = []
    for service_type, name, url_of in SERVICES:
        url = url_of()
        catalog.append(
            {
                "type": service_type,
                "name": name,
                "id": _stable_id("service", service_type),
                "endpoints": [
                    {
                        "id": _stable_id("endpoint", service_type, interface, region),
                        "interface": interface,
                        "region": region,
                        "region_id": region,
                        "url": url,
                    }
                    for interface in INTERFACES
                ],
            }
        )
    return catalog

"""The service catalog: the services computecloud serves, at their public URLs
(computecloud/endpoints.py). Rules the clients impose (measured, see
KEYSTONE-SUBSET.md §3.3): compute is the versioned ``…/compute/v2.1`` without a project id,
image and network are unversioned (NEUTRON-SUBSET.md §2.1: ``…/network/v2.0`` would break
Tempest), block storage is the versioned ``…/volume/v3`` under both of the types clients
look for (Tempest only ``block-storage``; older tools ``volumev3``), every endpoint carries
both ``region`` and ``region_id``.
"""

import uuid
from typing import Any

from computecloud.conf import cc_settings
from computecloud.endpoints import (
    compute_public_url,
    identity_public_url,
    image_public_url,
    network_public_url,
    volume_public_url,
)

INTERFACES = ("public", "internal", "admin")
_NAMESPACE = uuid.UUID("1d3c6c52-8a0f-4f43-9a53-58a1b3f8b0c1")


# (type, name, URL): the catalog, in the order Keystone lists it.
SERVICES = (
    ("identity", "keystone", identity_public_url),
    ("compute", "nova", compute_public_url),
    ("image", "glance", image_public_url),
    ("network", "neutron", network_public_url),
    ("block-storage", "cinder", volume_public_url),
    ("volumev3", "cinderv3", volume_public_url),
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

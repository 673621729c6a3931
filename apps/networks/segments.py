"""Segments: which VXLAN network id (VNI) a new network gets, atomically.

As with addresses (apps/networks/ipam.py), the unique index decides: the lowest VNI of
``NETWORK_VNI_RANGE`` that no network holds is inserted with the network in a savepoint; a
concurrent create that took it first makes the insert fail, and the next free VNI is tried.
"""

from typing import Any

from django.db import IntegrityError, connection, transaction

from apps.networks.exceptions import (
    FlatNetworkInUse,
    NoNetworkAvailable,
    SegmentationIdInUse,
)
from apps.networks.ipam import violated_constraint
from apps.networks.models import Network
from computecloud.conf import cc_settings

MAX_VNI = 2**24 - 1

_FIRST_FREE_VNI = """
SELECT candidate FROM (
    SELECT %(first)s AS candidate
    UNION ALL
    SELECT segmentation_id + 1 FROM networks_network
    WHERE segmentation_id BETWEEN %(first)s AND %(last)s
) candidates
WHERE candidate <= %(last)s
  AND NOT EXISTS (SELECT 1 FROM networks_network n WHERE n.segmentation_id = candidate)
ORDER BY candidate
LIMIT 1
"""


def vni_range() -> tuple[int, int]:
    first, last = cc_settings.NETWORK_VNI_RANGE
    return int(first), int(last)


def first_free_vni() -> int | None:
    first, last = vni_range()
    with connection.cursor() as cursor:
        cursor.execute(_FIRST_FREE_VNI, {"first": first, "last": last})
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def insert_network(**fields: Any) -> Network:
    """Insert a network. A VXLAN network without ``segmentation_id`` gets the lowest free
    VNI of the range (503 `NoNetworkAvailable` when none is left); one with it (an admin's
    choice) gets exactly that or a 409. A flat network's physical network takes one network
    at most (409 `FlatNetworkInUse`). Precondition: inside ``transaction.atomic()``."""
    chosen = fields.get("segmentation_id")
    while True:
        if fields["network_type"] == "vxlan" and chosen is None:
            vni = first_free_vni()
            if vni is None:
                raise NoNetworkAvailable()
            fields["segmentation_id"] = vni
        try:
            with transaction.atomic():
                return Network.objects.create(**fields)
        except IntegrityError as exc:
            name = violated_constraint(exc)
            if name == "network_one_flat_per_physical_network":
                raise FlatNetworkInUse(physical_network=fields["physical_network"]) from None
            if name != "network_unique_vni":
                raise
            if chosen is not None:
                raise SegmentationIdInUse(tunnel_id=chosen) from None
            # Another create took this VNI and committed: take the next one.

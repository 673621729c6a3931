"""Identifiers both the control plane and the compute hosts derive the same way (no Django)."""

import uuid

_NAMESPACE = uuid.UUID("3c5e0a52-7f0e-4d36-9a55-3f2d0c1b7a10")


def compute_node_uuid(host: str) -> str:
    """A compute host's node (and resource provider) uuid: stable, derived from its name, so
    a host's first inventory report needs no answer from the control plane."""
    return str(uuid.uuid5(_NAMESPACE, f"compute-node:{host}"))

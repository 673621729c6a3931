"""What a build or an action carries to a compute host: plain JSON built from the records.

The compute worker has no database: everything it needs about an instance is here. The shapes
are `computecloud.wire`'s (the compute host reads them with the same definitions).
"""

from __future__ import annotations

from apps.conductor import volumes
from apps.images.services import signed_download_url
from apps.networks import services as networks
from apps.servers.models import Server
from computecloud.wire import ImagePayload, InstancePayload


def instance_payload(server: Server) -> InstancePayload:
    """The instance's `InstancePayload` (the host's InstanceSpec.from_payload reads it)."""
    flavor = server.flavor or {}
    public_keys = {server.key_name: server.key_data} if server.key_name and server.key_data else {}
    return {
        "uuid": str(server.uuid),
        "name": server.name,
        "hostname": server.hostname,
        "memory_mb": server.memory_mb,
        "vcpus": server.vcpus,
        "root_gb": server.root_gb,
        "ephemeral_gb": int(flavor.get("ephemeral") or 0),
        "swap_mb": int(flavor.get("swap") or 0),
        "image_id": server.image_ref,
        "image_meta": server.image_meta or {},
        "metadata": dict(server.metadata_items.values_list("key", "value")),
        "user_data": server.user_data,
        "public_keys": public_keys,
        "config_drive": server.config_drive,
        "availability_zone": server.availability_zone,
        "project_id": server.project_id,
        "user_id": server.user_id,
        "launch_index": server.launch_index,
        "flavor_name": flavor.get("name"),
        "extra_specs": flavor.get("extra_specs", {}),
        "network_info": networks.instance_vifs(str(server.uuid)),
        "block_devices": volumes.block_devices(server),
    }


def image_payload(server: Server) -> ImagePayload:
    """Where the host downloads the image from (a signed URL: the host has no token) and how
    it checks what it got. From the server's image snapshot: image data never changes once
    active, and a build of an image deleted since fails at the download, as in Nova."""
    image = server.image_meta
    if not image.get("id"):
        # Booted from a volume: the host reads the root disk from the volume, fetches nothing.
        return {"image_id": "", "url": ""}
    return {
        "image_id": image["id"],
        "url": signed_download_url(image_id=image["id"]),
        "checksum": image["checksum"],
        "os_hash_algo": image["os_hash_algo"],
        "os_hash_value": image["os_hash_value"],
        "size": image["size"],
        "disk_format": image["disk_format"],
    }

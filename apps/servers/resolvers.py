"""What server requests name, resolved against the other apps: the flavor (with its access),
the image (with Nova's checks against the flavor), the key pair's public key. Create, rebuild
and resize all resolve through here, so each rule has one home."""

from __future__ import annotations

from typing import Any

from apps.flavors.models import Flavor
from apps.identity.context import RequestContext
from apps.images.services import get_image_for_boot, image_meta
from apps.keypairs.services import get_public_key
from computecloud.exceptions import InvalidInput


def resolve_flavor(context: RequestContext, flavor_ref: str) -> Flavor:
    flavor_id = flavor_ref.rstrip("/").rsplit("/", 1)[-1]
    flavor = Flavor.objects.prefetch_related("extra_specs").filter(flavorid=flavor_id).first()
    if flavor is None or flavor.disabled:
        raise InvalidInput(f"Flavor {flavor_id} could not be found.")
    if not flavor.is_public and not (
        context.is_admin or flavor.projects.filter(project_id=context.project_id).exists()
    ):
        raise InvalidInput(f"Flavor {flavor_id} could not be found.")
    return flavor


def resolve_image(context: RequestContext, image_ref: str, flavor: Flavor) -> dict[str, Any]:
    """The image's facts as the build carries them, after Nova's checks against the flavor."""
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1]
    image = get_image_for_boot(context=context, image_id=image_id)
    if image.status != "active":
        raise InvalidInput(f"Image {image.id} is not active.")
    if (image.min_ram or 0) > flavor.memory_mb:
        raise InvalidInput("Flavor's memory is too small for requested image.")
    if flavor.root_gb and (image.min_disk or 0) > flavor.root_gb:
        raise InvalidInput("Flavor's disk is too small for requested image.")
    if flavor.root_gb and image.size and image.size > flavor.root_gb * 1024**3:
        raise InvalidInput("Flavor's disk is too small for requested image.")
    return image_meta(image=image)


def flavor_snapshot(flavor: Flavor) -> dict[str, Any]:
    return {
        "id": flavor.flavorid,
        "name": flavor.name,
        "vcpus": flavor.vcpus,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "ephemeral": flavor.ephemeral_gb,
        "swap": flavor.swap,
        "extra_specs": {spec.key: spec.value for spec in flavor.extra_specs.all()},
    }


def key_data_for(context: RequestContext, key_name: str | None) -> str | None:
    if key_name is None:
        return None

    key_data = get_public_key(user_id=context.user_id, name=key_name)
    if key_data is None:
        raise InvalidInput("Invalid key_name provided.")
    return key_data

"""Public URLs of the services computecloud serves, as the service catalog lists them."""

from django.conf import settings


def identity_public_url() -> str:
    return f"{settings.PUBLIC_URL}/identity"


def compute_public_url() -> str:
    return f"{settings.PUBLIC_URL}/compute/v2.1"


def image_public_url() -> str:
    return f"{settings.PUBLIC_URL}/image"

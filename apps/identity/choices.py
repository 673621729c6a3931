"""Identity constants."""

from django.db import models

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"


class RoleName(models.TextChoices):
    """The roles Keystone's bootstrap makes, which Nova's default policies are written against.

    "service" is for services' own users (Nova's policies name it only for service-to-service
    APIs, none of which is served here): it implies no other role, so it grants nothing of a
    project's. Tempest's dynamic credentials ask for it.
    """

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"
    SERVICE = "service"

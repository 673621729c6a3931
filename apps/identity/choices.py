"""Identity constants."""

from django.db import models

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"


class RoleName(models.TextChoices):
    """The roles Nova's default policies are written against."""

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"

"""A user's key pairs. The private half is never stored: a generated one is returned once."""

from django.db import models

from apps.identity.models import User


class KeyPairType(models.TextChoices):
    SSH = "ssh"
    X509 = "x509"


class KeyPair(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="key_pairs")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=8, choices=KeyPairType.choices, default=KeyPairType.SSH)
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="keypair_unique_name_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.name} of {self.user_id}"

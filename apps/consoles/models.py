"""Console tokens: random, stored as SHA-256, bound to one instance and the VNC address its
host reported (never to anything the client sends), expiring."""

from django.db import models


class ConsoleToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    server_uuid = models.UUIDField(db_index=True)
    console_type = models.CharField(max_length=32, default="novnc")
    # Where the proxy connects: from the compute host's report, never from the client.
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    user_id = models.CharField(max_length=64)
    project_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.console_type} token for {self.server_uuid}"

"""Console token writes."""

import uuid

from apps.consoles.models import ConsoleToken


def revoke_server_tokens(*, server_uuid: uuid.UUID | str) -> int:
    """Remove every console token of an instance (deleted, migrated or resized)."""
    deleted, _ = ConsoleToken.objects.filter(server_uuid=server_uuid).delete()
    return deleted

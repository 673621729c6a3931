"""Every change of a resource bumps its ``revision_number`` and ``updated_at`` (Neutron's
standard attributes), in the same UPDATE as the change itself."""

from typing import Any

from django.db.models import F, Model
from django.utils import timezone


def bump(model: type[Model], pk: Any, **fields: Any) -> int:
    """Write `fields` of row `pk` (none: only the revision); returns rows changed."""
    return model.objects.filter(pk=pk).update(  # type: ignore[attr-defined]
        **fields, revision_number=F("revision_number") + 1, updated_at=timezone.now()
    )


def bump_all(queryset: Any, **fields: Any) -> int:
    return queryset.update(
        **fields, revision_number=F("revision_number") + 1, updated_at=timezone.now()
    )

"""Tags of networks, subnets, ports, security groups, routers and floating IPs (Neutron's
standard-attr-tag): each change bumps the resource's revision, as any other change does."""

from typing import Any

from django.db import transaction

from apps.networks.choices import MAX_TAGS
from apps.networks.exceptions import InvalidInput, TagNotFound
from apps.networks.revisions import bump


def _save(obj: Any, tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per resource")
    bump(type(obj), obj.pk, tags=tags)
    obj.refresh_from_db(fields=["tags", "revision_number", "updated_at"])
    return tags


def _locked_tags(obj: Any) -> list[str]:
    return list(type(obj).objects.select_for_update().values_list("tags", flat=True).get(pk=obj.pk))


def replace_tags(obj: Any, tags: list[str]) -> list[str]:
    with transaction.atomic():
        _locked_tags(obj)
        return _save(obj, list(dict.fromkeys(tags)))


def add_tag(obj: Any, tag: str) -> None:
    with transaction.atomic():
        tags = _locked_tags(obj)
        if tag not in tags:
            _save(obj, [*tags, tag])


def remove_tag(obj: Any, tag: str, *, resource: str) -> None:
    with transaction.atomic():
        tags = _locked_tags(obj)
        if tag not in tags:
            raise TagNotFound(tag=tag, resource=resource, resource_id=obj.pk)
        _save(obj, [t for t in tags if t != tag])


def has_tag(obj: Any, tag: str, *, resource: str) -> None:
    if tag not in obj.tags:
        raise TagNotFound(tag=tag, resource=resource, resource_id=obj.pk)

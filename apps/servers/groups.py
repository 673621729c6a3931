"""Server groups (os-server-groups): reading, creating and deleting them.

A group is a policy (affinity, anti-affinity or their soft forms) with optional rules, owned by
a project. Membership is written by `apps.servers.create.create_servers` (scheduler hint
``group``) and removed when a server is deleted; the scheduler's filters and weighers enforce
the policy (apps/scheduler, docs/scheduler.md). Nothing here schedules or moves servers.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet

from apps.identity.context import RequestContext
from apps.quotas import services as quotas
from apps.servers.exceptions import ServerGroupNotFound
from apps.servers.models import ServerGroup, ServerGroupMember
from computecloud.exceptions import InvalidInput

logger = logging.getLogger(__name__)

AFFINITY = ServerGroup.Policy.AFFINITY.value
ANTI_AFFINITY = ServerGroup.Policy.ANTI_AFFINITY.value
SOFT_AFFINITY = ServerGroup.Policy.SOFT_AFFINITY.value
SOFT_ANTI_AFFINITY = ServerGroup.Policy.SOFT_ANTI_AFFINITY.value
# The rule names a group may carry, and the policy that allows them (Nova: anti-affinity only).
RULE_NAMES = frozenset({"max_server_per_host"})
RULES_POLICY = ANTI_AFFINITY


def with_live_members(queryset: QuerySet[ServerGroup]) -> QuerySet[ServerGroup]:
    """Groups with ``live_members``: their members that are not deleted (as Nova shows them),
    loaded in one more statement whatever the number of groups."""
    members = (
        ServerGroupMember.objects.filter(server__deleted=False)
        .select_related("server")
        .only("id", "group_id", "server__uuid")
        .order_by("id")
    )
    return queryset.prefetch_related(Prefetch("members", queryset=members, to_attr="live_members"))


def visible_server_groups(
    context: RequestContext, *, all_projects: bool = False
) -> QuerySet[ServerGroup]:
    """The caller's project's groups; every project's for an admin asking all_projects (the
    caller has passed the ``index:all_projects`` policy)."""
    queryset = ServerGroup.objects.all()
    if not (all_projects and context.is_admin):
        queryset = queryset.filter(project_id=context.project_id)
    # Creation order, as Nova lists them, so that offset paging is stable.
    return queryset.order_by("id")


def get_server_group(context: RequestContext, group_id: str) -> ServerGroup:
    """One group by uuid; another project's is a 404 (admins see every project's)."""
    try:
        uuid.UUID(str(group_id))
    except ValueError:
        raise ServerGroupNotFound(group_uuid=group_id) from None
    queryset = ServerGroup.objects.filter(uuid=group_id)
    if not context.is_admin:
        queryset = queryset.filter(project_id=context.project_id)
    group = with_live_members(queryset).first()
    if group is None:
        raise ServerGroupNotFound(group_uuid=group_id)
    return group


def count_server_groups(project_id: str) -> int:
    """The project's server groups (the ``server_groups`` quota's usage)."""
    return ServerGroup.objects.filter(project_id=project_id).count()


def count_server_group_members(group: ServerGroup, user_id: str | None = None) -> int:
    """Live members of `group`, only those `user_id` created when given (Nova counts per user;
    the ``server_group_members`` quota's usage)."""
    members = ServerGroupMember.objects.filter(group=group, server__deleted=False)
    if user_id is not None:
        members = members.filter(server__user_id=user_id)
    return members.count()


def create_server_group(
    *, context: RequestContext, name: str, policy: str, rules: dict[str, Any] | None = None
) -> ServerGroup:
    """Create a group in the caller's project after the ``server_groups`` quota check.

    The request layer has checked the shapes (name, one known policy, rule types); this checks
    what holds whatever the microversion: rules belong to anti-affinity only.
    """
    rules = dict(rules or {})
    if policy not in ServerGroup.Policy.values:
        raise InvalidInput(f"Invalid server group policy {policy!r}.")
    if rules and policy != RULES_POLICY:
        raise InvalidInput("Only anti-affinity policy supports rules.")
    unknown = sorted(set(rules) - RULE_NAMES)
    if unknown:
        raise InvalidInput(f"Unknown server group rules: {', '.join(unknown)}.")
    with transaction.atomic():
        # The project lock serialises concurrent creates, so each count includes the others.
        project = quotas.lock_project(context.project_id)
        quotas.check_server_group_quota(
            project=project, used=count_server_groups(project.pk), adding=1
        )
        group = ServerGroup.objects.create(
            name=name, project=project, user_id=context.user_id, policy=policy, rules=rules
        )
    logger.info(
        "server group %s (%s, %s) created in project %s by %s",
        group.uuid,
        group.name,
        policy,
        context.project_id,
        context.user_id,
    )
    return group


def delete_server_group(*, context: RequestContext, group: ServerGroup) -> None:
    """Delete the group and its memberships; its servers stay where they are (as in Nova)."""
    deleted, _ = ServerGroup.objects.filter(pk=group.pk).delete()
    if not deleted:
        # Deleted by a concurrent request meanwhile.
        raise ServerGroupNotFound(group_uuid=group.uuid)
    logger.info("server group %s deleted by %s", group.uuid, context.user_id)

"""Policy: one declarative table from action name to rule, enforced by one permission class.

Views name their actions (``policy_actions = {"list": "os_compute_api:servers:index"}``, keyed
by viewset action or HTTP method); `PolicyPermission` looks the action up here and evaluates
its rule against the caller's `RequestContext`. An action with no entry is refused, so a new
endpoint is closed until it is given a rule. Operators override rules in settings:
``COMPUTECLOUD["POLICY_OVERRIDES"] = {"os_compute_api:servers:create": "admin_api"}``.

Which *objects* a caller sees is not policy's job: querysets are scoped to the caller's project
(another project's server is a 404, not a 403), and admins widen that with ``all_tenants``.
"""

from collections.abc import Callable
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.identity.context import RequestContext
from computecloud.conf import cc_settings
from computecloud.exceptions import NotAuthorized, PolicyNotAuthorized

Rule = Callable[[RequestContext], bool]

RULES: dict[str, Rule] = {
    "admin_api": lambda ctx: ctx.is_admin,
    "project_member_or_admin": lambda ctx: ctx.is_member,
    "project_reader_or_admin": lambda ctx: ctx.is_reader,
    "any_authenticated": lambda ctx: True,
}

ADMIN = "admin_api"
MEMBER = "project_member_or_admin"
READER = "project_reader_or_admin"
ANYONE = "any_authenticated"

# Nova's defaults for the APIs we serve (nova/policies/*.py), plus our own.
DEFAULT_POLICIES: dict[str, str] = {
    # servers
    "os_compute_api:servers:index": READER,
    "os_compute_api:servers:detail": READER,
    "os_compute_api:servers:index:get_all_tenants": ADMIN,
    "os_compute_api:servers:detail:get_all_tenants": ADMIN,
    "os_compute_api:servers:allow_all_filters": ADMIN,
    "os_compute_api:servers:show": READER,
    "os_compute_api:servers:show:host_status": ADMIN,
    "os_compute_api:servers:create": MEMBER,
    "os_compute_api:servers:create:forced_host": ADMIN,
    "os_compute_api:servers:update": MEMBER,
    "os_compute_api:servers:delete": MEMBER,
    "os_compute_api:servers:reboot": MEMBER,
    "os_compute_api:servers:resize": MEMBER,
    "os_compute_api:servers:confirm_resize": MEMBER,
    "os_compute_api:servers:revert_resize": MEMBER,
    "os_compute_api:servers:rebuild": MEMBER,
    "os_compute_api:servers:create_image": MEMBER,
    "os_compute_api:servers:start": MEMBER,
    "os_compute_api:servers:stop": MEMBER,
    "os_compute_api:servers:migrations:index": ADMIN,
    "os_compute_api:os-extended-server-attributes": ADMIN,
    "os_compute_api:os-extended-status": READER,
    "os_compute_api:os-pause-server:pause": MEMBER,
    "os_compute_api:os-pause-server:unpause": MEMBER,
    "os_compute_api:os-suspend-server:suspend": MEMBER,
    "os_compute_api:os-suspend-server:resume": MEMBER,
    "os_compute_api:os-lock-server:lock": MEMBER,
    "os_compute_api:os-lock-server:unlock": MEMBER,
    "os_compute_api:os-lock-server:unlock:unlock_override": ADMIN,
    "os_compute_api:os-migrate-server:migrate": ADMIN,
    "os_compute_api:os-admin-actions:reset_state": ADMIN,
    "os_compute_api:os-deferred-delete:force": MEMBER,
    "os_compute_api:os-console-output": MEMBER,
    "os_compute_api:os-remote-consoles": MEMBER,
    "os_compute_api:os-console-auth-tokens": ADMIN,
    "os_compute_api:server-metadata:index": READER,
    "os_compute_api:server-metadata:show": READER,
    "os_compute_api:server-metadata:create": MEMBER,
    "os_compute_api:server-metadata:update": MEMBER,
    "os_compute_api:server-metadata:update_all": MEMBER,
    "os_compute_api:server-metadata:delete": MEMBER,
    "os_compute_api:os-server-tags:index": READER,
    "os_compute_api:os-server-tags:show": READER,
    "os_compute_api:os-server-tags:update": MEMBER,
    "os_compute_api:os-server-tags:update_all": MEMBER,
    "os_compute_api:os-server-tags:delete": MEMBER,
    "os_compute_api:os-server-tags:delete_all": MEMBER,
    "os_compute_api:ips:index": READER,
    "os_compute_api:ips:show": READER,
    "os_compute_api:os-instance-actions:list": READER,
    "os_compute_api:os-instance-actions:show": READER,
    "os_compute_api:os-instance-actions:events": ADMIN,
    "os_compute_api:os-instance-actions:events:details": ADMIN,
    "os_compute_api:os-server-groups:index": READER,
    "os_compute_api:os-server-groups:index:all_projects": ADMIN,
    "os_compute_api:os-server-groups:show": READER,
    "os_compute_api:os-server-groups:create": MEMBER,
    "os_compute_api:os-server-groups:delete": MEMBER,
    # flavors
    "os_compute_api:flavors:index": ANYONE,
    "os_compute_api:flavors:show": ANYONE,
    "os_compute_api:os-flavor-manage:create": ADMIN,
    "os_compute_api:os-flavor-manage:update": ADMIN,
    "os_compute_api:os-flavor-manage:delete": ADMIN,
    "os_compute_api:os-flavor-extra-specs:index": READER,
    "os_compute_api:os-flavor-extra-specs:show": READER,
    "os_compute_api:os-flavor-extra-specs:create": ADMIN,
    "os_compute_api:os-flavor-extra-specs:update": ADMIN,
    "os_compute_api:os-flavor-extra-specs:delete": ADMIN,
    "os_compute_api:os-flavor-access": ADMIN,
    "os_compute_api:os-flavor-access:add_tenant_access": ADMIN,
    "os_compute_api:os-flavor-access:remove_tenant_access": ADMIN,
    # images (Glance's defaults, simplified to the same three rules)
    "image:get_images": READER,
    "image:get_image": READER,
    "image:add_image": MEMBER,
    "image:modify_image": MEMBER,
    "image:delete_image": MEMBER,
    "image:upload_image": MEMBER,
    "image:download_image": READER,
    "image:publicize_image": ADMIN,
    # keypairs, quotas, limits
    "os_compute_api:os-keypairs:index": ANYONE,
    "os_compute_api:os-keypairs:show": ANYONE,
    "os_compute_api:os-keypairs:create": ANYONE,
    "os_compute_api:os-keypairs:delete": ANYONE,
    "os_compute_api:os-quota-sets:show": READER,
    "os_compute_api:os-quota-sets:update": ADMIN,
    "os_compute_api:os-quota-sets:defaults": ANYONE,
    "os_compute_api:os-quota-sets:detail": READER,
    "os_compute_api:os-quota-sets:delete": ADMIN,
    "os_compute_api:limits": ANYONE,
    "os_compute_api:limits:other_project": ADMIN,
    # admin resources
    "os_compute_api:os-hypervisors:list": ADMIN,
    "os_compute_api:os-hypervisors:list-detail": ADMIN,
    "os_compute_api:os-hypervisors:show": ADMIN,
    "os_compute_api:os-hypervisors:statistics": ADMIN,
    "os_compute_api:os-hypervisors:servers": ADMIN,
    "os_compute_api:os-services:list": ADMIN,
    "os_compute_api:os-services:update": ADMIN,
    "os_compute_api:os-services:delete": ADMIN,
    "os_compute_api:os-availability-zone:list": ANYONE,
    "os_compute_api:os-availability-zone:detail": ADMIN,
    "os_compute_api:os-aggregates:index": ADMIN,
    "os_compute_api:os-aggregates:create": ADMIN,
    "os_compute_api:os-aggregates:show": ADMIN,
    "os_compute_api:os-aggregates:update": ADMIN,
    "os_compute_api:os-aggregates:delete": ADMIN,
    "os_compute_api:os-aggregates:add_host": ADMIN,
    "os_compute_api:os-aggregates:remove_host": ADMIN,
    "os_compute_api:os-aggregates:set_metadata": ADMIN,
    "os_compute_api:os-simple-tenant-usage:show": READER,
    "os_compute_api:os-simple-tenant-usage:list": ADMIN,
    "os_compute_api:os-migrations:index": ADMIN,
    # scheduler (ours)
    "computecloud:scheduler:dry_run": ADMIN,
    # identity (Keystone's defaults for what we serve)
    "identity:validate_token": ANYONE,
    "identity:revoke_token": ANYONE,
    "identity:get_project": ANYONE,
    "identity:list_projects": ADMIN,
    "identity:get_user": ANYONE,
    "identity:list_users": ADMIN,
}


def rule_for(action: str) -> str | None:
    overrides: dict[str, str] = cc_settings.POLICY_OVERRIDES
    return overrides.get(action) or DEFAULT_POLICIES.get(action)


def allowed(context: RequestContext, action: str) -> bool:
    """Whether `context` may perform `action` (an unknown action is never allowed)."""
    rule_name = rule_for(action)
    if rule_name is None:
        return False
    return RULES[rule_name](context)


def authorize(context: RequestContext, action: str) -> None:
    """Raise 403 in Nova's words unless `context` may perform `action`."""
    if not allowed(context, action):
        raise PolicyNotAuthorized(action=action)


def view_action(request: Request, view: Any) -> str | None:
    actions: dict[str, str] = getattr(view, "policy_actions", {})
    key = getattr(view, "action", None) or request.method.lower()
    return actions.get(key) or actions.get(request.method.lower())


class PolicyPermission(BasePermission):
    """The one gate every API view passes: authenticated, then the action's policy rule."""

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        if not isinstance(context, RequestContext) and request.user is not None:
            from apps.identity.authentication import session_context

            context = session_context(request.user, getattr(request, "request_id", "-"))
            if context is not None:
                request.auth = context
        if not isinstance(context, RequestContext):
            raise NotAuthorized()
        action = view_action(request, view)
        if action is None:
            raise PolicyNotAuthorized(action=f"{request.method} {request.path}")
        authorize(context, action)
        return True

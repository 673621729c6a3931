"""Policy: one declarative table from action name to rule, enforced by one permission class.

Views name their actions (``policy_actions = {"list": "os_compute_api:servers:index"}``, keyed
by viewset action or HTTP method); `PolicyPermission` looks the action up here and evaluates
its rule against the caller's `RequestContext`. An action with no entry is refused, so a new
endpoint is closed until it is given a rule. Operators override rules in settings:
``COMPUTECLOUD["POLICY_OVERRIDES"] = {"os_compute_api:servers:create": "admin_api"}`` (a rule
name from `RULES`; an unknown name stops start-up, see `apps.identity.checks`).

Rules read a *target*, as oslo.policy's ``project_id:%(project_id)s`` and
``user_id:%(user_id)s`` do: the project and user the request acts on. `PolicyPermission`
checks the caller's own project and user (Nova's default target); a view that acts on another
project or user (``os-quota-sets/{project_id}``, ``os-keypairs?user_id=``) checks again with
`authorize(context, action, target={...})` once it knows whose object it is.

Which *objects* a caller sees is not policy's job: querysets are scoped to the caller's project
(another project's server is a 404, not a 403), and admins widen that with ``all_tenants``.
"""

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.identity.context import RequestContext
from computecloud.conf import cc_settings
from computecloud.exceptions import AuthenticationRequired, PolicyNotAuthorized

Target = Mapping[str, Any]
Rule = Callable[[RequestContext, Target], bool]


def _own_project(ctx: RequestContext, target: Target) -> bool:
    """``project_id:%(project_id)s``: the caller's token is scoped to the target project."""
    return ctx.project_id is not None and target.get("project_id", ctx.project_id) == ctx.project_id


def _own_user(ctx: RequestContext, target: Target) -> bool:
    """``user_id:%(user_id)s``: the target belongs to the caller."""
    return target.get("user_id", ctx.user_id) == ctx.user_id


# Nova's base rules (nova/policies/base.py). Nova's "context_is_admin" is "role:admin" in any
# project, which is what `ctx.is_admin` says. Keystone's implied roles (admin ⊃ member ⊃
# reader) are stored as explicit assignments, so "role:reader" is `ctx.is_reader`.
RULES: dict[str, Rule] = {
    "admin_api": lambda ctx, target: ctx.is_admin,
    "project_member_or_admin": lambda ctx, target: (
        ctx.is_admin or (ctx.is_member and _own_project(ctx, target))
    ),
    "project_reader_or_admin": lambda ctx, target: (
        ctx.is_admin or (ctx.is_reader and _own_project(ctx, target))
    ),
    # "(rule:context_is_admin) or user_id:%(user_id)s": Nova's keypairs and Keystone's
    # token_subject (a user's own tokens). Not Nova's deprecated "admin_or_owner", which
    # meant the *project*: that is project_reader_or_admin here.
    "admin_or_user": lambda ctx, target: ctx.is_admin or _own_user(ctx, target),
    "any_authenticated": lambda ctx, target: True,
}

ADMIN = "admin_api"
MEMBER = "project_member_or_admin"
READER = "project_reader_or_admin"
OWNER = "admin_or_user"
ANYONE = "any_authenticated"

# Nova's defaults for the APIs we serve (nova/policies/*.py, reviewed against Nova master of
# 2026-08), plus our own. Nova gives a few admin operations to the project "manager" persona
# too (migrate, live migrate, migrations:index); we have no manager role, so they stay
# admin-only, which was Nova's default before the manager persona.
DEFAULT_POLICIES: dict[str, str] = {
    # servers
    "os_compute_api:servers:index": READER,
    "os_compute_api:servers:detail": READER,
    "os_compute_api:servers:index:get_all_tenants": ADMIN,
    "os_compute_api:servers:detail:get_all_tenants": ADMIN,
    "os_compute_api:servers:allow_all_filters": ADMIN,
    "os_compute_api:servers:show": READER,
    "os_compute_api:servers:show:host_status": ADMIN,
    "os_compute_api:servers:show:host_status:unknown-only": ADMIN,
    "os_compute_api:servers:show:flavor-extra-specs": READER,
    "os_compute_api:servers:create": MEMBER,
    "os_compute_api:servers:create:forced_host": ADMIN,
    "compute:servers:create:requested_destination": ADMIN,
    "os_compute_api:servers:create:attach_volume": MEMBER,
    "os_compute_api:servers:create:attach_network": MEMBER,
    "os_compute_api:servers:create:trusted_certs": MEMBER,
    "os_compute_api:servers:create:zero_disk_flavor": ADMIN,
    "os_compute_api:servers:update": MEMBER,
    "os_compute_api:servers:delete": MEMBER,
    "os_compute_api:servers:reboot": MEMBER,
    "os_compute_api:servers:resize": MEMBER,
    "os_compute_api:servers:confirm_resize": MEMBER,
    "os_compute_api:servers:revert_resize": MEMBER,
    "os_compute_api:servers:rebuild": MEMBER,
    "os_compute_api:servers:create_image": MEMBER,
    "os_compute_api:servers:create_image:allow_volume_backed": MEMBER,
    "os_compute_api:servers:trigger_crash_dump": MEMBER,
    "os_compute_api:os-create-backup": MEMBER,
    "os_compute_api:os-admin-password": MEMBER,
    "os_compute_api:os-rescue": MEMBER,
    "os_compute_api:os-unrescue": MEMBER,
    "os_compute_api:os-shelve:shelve": MEMBER,
    "os_compute_api:os-shelve:unshelve": MEMBER,
    "os_compute_api:os-shelve:shelve_offload": ADMIN,
    "os_compute_api:os-shelve:unshelve_to_host": ADMIN,
    "os_compute_api:os-server-password:show": READER,
    "os_compute_api:os-server-password:clear": MEMBER,
    "os_compute_api:os-server-diagnostics": ADMIN,
    "os_compute_api:os-evacuate": ADMIN,
    "os_compute_api:servers:start": MEMBER,
    "os_compute_api:servers:stop": MEMBER,
    "os_compute_api:servers:migrations:index": ADMIN,
    "os_compute_api:servers:migrations:index:host": ADMIN,
    "os_compute_api:servers:migrations:show": ADMIN,
    "os_compute_api:servers:migrations:delete": ADMIN,
    "os_compute_api:servers:migrations:force_complete": ADMIN,
    "os_compute_api:os-extended-server-attributes": ADMIN,
    "os_compute_api:os-extended-status": READER,  # gone from Nova; kept for callers
    "os_compute_api:os-pause-server:pause": MEMBER,
    "os_compute_api:os-pause-server:unpause": MEMBER,
    "os_compute_api:os-suspend-server:suspend": MEMBER,
    "os_compute_api:os-suspend-server:resume": MEMBER,
    "os_compute_api:os-lock-server:lock": MEMBER,
    "os_compute_api:os-lock-server:unlock": MEMBER,
    "os_compute_api:os-lock-server:unlock:unlock_override": ADMIN,
    "os_compute_api:os-migrate-server:migrate": ADMIN,
    "os_compute_api:os-migrate-server:migrate:host": ADMIN,
    "os_compute_api:os-migrate-server:migrate_live": ADMIN,
    "os_compute_api:os-migrate-server:migrate_live:host": ADMIN,
    "os_compute_api:os-admin-actions:reset_state": ADMIN,
    "os_compute_api:os-admin-actions:inject_network_info": ADMIN,
    "os_compute_api:os-deferred-delete:force": MEMBER,
    "os_compute_api:os-deferred-delete:restore": MEMBER,
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
    "os_compute_api:os-attach-interfaces:list": READER,
    "os_compute_api:os-attach-interfaces:show": READER,
    "os_compute_api:os-attach-interfaces:create": MEMBER,
    "os_compute_api:os-attach-interfaces:delete": MEMBER,
    "os_compute_api:os-volumes-attachments:index": READER,
    "os_compute_api:os-volumes-attachments:show": READER,
    "os_compute_api:os-volumes-attachments:create": MEMBER,
    "os_compute_api:os-volumes-attachments:delete": MEMBER,
    # The volume proxies (apps/volumes/api/compute.py).
    "os_compute_api:os-volumes:list": READER,
    "os_compute_api:os-volumes:detail": READER,
    "os_compute_api:os-volumes:show": READER,
    "os_compute_api:os-volumes:create": MEMBER,
    "os_compute_api:os-volumes:delete": MEMBER,
    "os_compute_api:os-volumes:snapshots:list": READER,
    "os_compute_api:os-volumes:snapshots:detail": READER,
    "os_compute_api:os-volumes:snapshots:show": READER,
    "os_compute_api:os-volumes:snapshots:create": MEMBER,
    "os_compute_api:os-volumes:snapshots:delete": MEMBER,
    # The network proxies (apps/networks/api/compute.py).
    "os_compute_api:os-tenant-networks:list": READER,
    "os_compute_api:os-tenant-networks:show": READER,
    "os_compute_api:os-networks:list": READER,
    "os_compute_api:os-networks:view": READER,
    "os_compute_api:os-security-groups:get": READER,
    "os_compute_api:os-security-groups:show": READER,
    "os_compute_api:os-security-groups:create": MEMBER,
    "os_compute_api:os-security-groups:update": MEMBER,
    "os_compute_api:os-security-groups:delete": MEMBER,
    "os_compute_api:os-security-groups:rule:create": MEMBER,
    "os_compute_api:os-security-groups:rule:delete": MEMBER,
    "os_compute_api:os-security-groups:list": READER,
    "os_compute_api:os-security-groups:add": MEMBER,
    "os_compute_api:os-security-groups:remove": MEMBER,
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
    # networks (Neutron's defaults in the same three rules). Reads are READER: which objects a
    # project sees is the querysets' business (own, shared, external). Writes name the object's
    # project as the target, so a member may read another project's shared network but not
    # change it (403). "Network owner" rules target the network's project.
    "network:get_resources": ANYONE,
    "network:get_extension": ANYONE,
    "network:get_network": READER,
    "network:create_network": MEMBER,
    "network:update_network": MEMBER,
    "network:delete_network": MEMBER,
    "network:create_network:shared": ADMIN,
    "network:update_network:shared": ADMIN,
    "network:create_network:router:external": ADMIN,
    "network:update_network:router:external": ADMIN,
    "network:create_network:provider": ADMIN,
    "network:get_subnet": READER,
    "network:create_subnet": MEMBER,  # target: the network's project
    "network:update_subnet": MEMBER,
    "network:delete_subnet": MEMBER,
    "network:get_port": READER,
    "network:create_port": MEMBER,
    "network:update_port": MEMBER,
    "network:delete_port": MEMBER,
    "network:create_port:binding": ADMIN,
    "network:update_port:binding": ADMIN,
    "network:create_port:network_owner": MEMBER,  # mac_address, fixed IP, network:* owner
    "network:update_port:network_owner": MEMBER,
    "network:get_security_group": READER,
    "network:create_security_group": MEMBER,
    "network:update_security_group": MEMBER,
    "network:delete_security_group": MEMBER,
    "network:get_security_group_rule": READER,
    "network:create_security_group_rule": MEMBER,
    "network:delete_security_group_rule": MEMBER,
    "network:get_router": READER,
    "network:create_router": MEMBER,
    "network:update_router": MEMBER,
    "network:delete_router": MEMBER,
    "network:add_router_interface": MEMBER,
    "network:remove_router_interface": MEMBER,
    "network:create_router:external_gateway_info:enable_snat": ADMIN,
    "network:create_router:external_gateway_info:external_fixed_ips": ADMIN,
    "network:update_router:external_gateway_info:enable_snat": ADMIN,
    "network:update_router:external_gateway_info:external_fixed_ips": ADMIN,
    "network:get_floatingip": READER,
    "network:create_floatingip": MEMBER,
    "network:create_floatingip:floating_ip_address": ADMIN,
    "network:update_floatingip": MEMBER,
    "network:delete_floatingip": MEMBER,
    "network:get_quota": READER,
    "network:get_quotas": ADMIN,
    "network:update_quota": ADMIN,
    "network:delete_quota": ADMIN,
    # block storage (Cinder's defaults in the same three rules; apps/volumes/api/views.py).
    # Which volumes a caller sees is the querysets' business (own project; an admin any).
    "volume:get_all": READER,
    "volume:get": READER,
    "volume:create": MEMBER,
    "volume:update": MEMBER,
    "volume:delete": MEMBER,
    "volume:extend": MEMBER,
    "volume:get_volume_metadata": READER,
    "volume:update_volume_metadata": MEMBER,
    "volume:delete_volume_metadata": MEMBER,
    "volume:get_all_snapshots": READER,
    "volume:get_snapshot": READER,
    "volume:create_snapshot": MEMBER,
    "volume:update_snapshot": MEMBER,
    "volume:delete_snapshot": MEMBER,
    "volume_extension:volume_admin_actions:reset_status": ADMIN,
    "volume_extension:volume_admin_actions:force_delete": ADMIN,
    "volume_extension:type_get_all": ANYONE,
    "volume_extension:type_get": ANYONE,
    "volume_extension:types_manage": ADMIN,
    "volume_extension:quotas:show": READER,
    "volume_extension:quotas:update": ADMIN,
    "volume_extension:quotas:delete": ADMIN,
    "volume_extension:availability_zone_list": ANYONE,
    "limits_extension:used_limits": READER,
    # keypairs (user-owned: admin, or the user named by ?user_id / the body, else the caller),
    # quotas, limits
    "os_compute_api:os-keypairs:index": OWNER,
    "os_compute_api:os-keypairs:show": OWNER,
    "os_compute_api:os-keypairs:create": OWNER,
    "os_compute_api:os-keypairs:delete": OWNER,
    "os_compute_api:os-quota-sets:show": READER,
    "os_compute_api:os-quota-sets:update": ADMIN,
    "os_compute_api:os-quota-sets:defaults": ANYONE,
    "os_compute_api:os-quota-sets:detail": READER,
    "os_compute_api:os-quota-sets:delete": ADMIN,
    "os_compute_api:os-quota-class-sets:show": ADMIN,
    "os_compute_api:os-quota-class-sets:update": ADMIN,
    "os_compute_api:limits": ANYONE,
    "os_compute_api:limits:other_project": ADMIN,
    # admin resources
    "os_compute_api:os-hypervisors:list": ADMIN,
    "os_compute_api:os-hypervisors:list-detail": ADMIN,
    "os_compute_api:os-hypervisors:show": ADMIN,
    "os_compute_api:os-hypervisors:statistics": ADMIN,
    "os_compute_api:os-hypervisors:servers": ADMIN,
    "os_compute_api:os-hypervisors:search": ADMIN,
    "os_compute_api:os-hypervisors:uptime": ADMIN,
    "os_compute_api:os-hosts:list": ADMIN,
    "os_compute_api:os-hosts:show": ADMIN,
    "os_compute_api:os-hosts:update": ADMIN,
    "os_compute_api:os-hosts:reboot": ADMIN,
    "os_compute_api:os-hosts:shutdown": ADMIN,
    "os_compute_api:os-hosts:start": ADMIN,
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
    "os_compute_api:os-instance-usage-audit-log:list": ADMIN,
    "os_compute_api:os-instance-usage-audit-log:show": ADMIN,
    "os_compute_api:os-migrations:index": ADMIN,
    "os_compute_api:os-migrations:index:all_projects": ADMIN,
    "os_compute_api:os-migrations:index:host": ADMIN,
    # scheduler (ours)
    "computecloud:scheduler:dry_run": ADMIN,
    # identity (Keystone's defaults for what we serve, in these rules): a user validates and
    # revokes their own tokens (token_subject). Project and user reads are scoped instead of
    # refused: non-admins see the projects they hold a role on and themselves, anything else
    # is a 404 (Keystone answers 403, and refuses lists outright); that lets
    # `openstack quota show NAME` resolve names for ordinary users.
    "identity:validate_token": OWNER,
    "identity:revoke_token": OWNER,
    "identity:get_auth_projects": ANYONE,
    "identity:get_auth_catalog": ANYONE,
    "identity:get_project": ANYONE,
    "identity:list_projects": ANYONE,
    "identity:get_user": ANYONE,
    "identity:list_users": ANYONE,
    # identity administration (docs/identity.md): writes on projects, users and grants are
    # the admin's; roles are readable by all (a member names them in application
    # credentials), domains scoped as projects are; a user manages their own application
    # credentials (an admin may read and delete anyone's; nobody creates them for another).
    "identity:create_project": ADMIN,
    "identity:update_project": ADMIN,
    "identity:delete_project": ADMIN,
    "identity:create_user": ADMIN,
    "identity:update_user": ADMIN,
    "identity:delete_user": ADMIN,
    "identity:list_user_projects": OWNER,
    "identity:list_roles": ANYONE,
    "identity:get_role": ANYONE,
    "identity:list_grants": ADMIN,
    "identity:check_grant": ADMIN,
    "identity:create_grant": ADMIN,
    "identity:revoke_grant": ADMIN,
    "identity:list_role_assignments": ADMIN,
    "identity:list_domains": ANYONE,
    "identity:get_domain": ANYONE,
    "identity:list_application_credentials": OWNER,
    "identity:get_application_credential": OWNER,
    "identity:create_application_credential": OWNER,
    "identity:delete_application_credential": OWNER,
}


def rule_for(action: str) -> str | None:
    overrides: dict[str, str] = cc_settings.POLICY_OVERRIDES
    return overrides.get(action) or DEFAULT_POLICIES.get(action)


def allowed(context: RequestContext, action: str, target: Target | None = None) -> bool:
    """Whether `context` may perform `action` on `target` (by default the caller's own project
    and user). An unknown action is never allowed."""
    rule_name = rule_for(action)
    if rule_name is None:
        return False
    return RULES[rule_name](context, target or {})


def authorize(context: RequestContext, action: str, target: Target | None = None) -> None:
    """Raise 403 in Nova's words unless `context` may perform `action` on `target`."""
    if not allowed(context, action, target):
        raise PolicyNotAuthorized(action=action)


def view_action(request: Request, view: Any) -> str | None:
    actions: dict[str, str] = getattr(view, "policy_actions", {})
    key = getattr(view, "action", None) or request.method.lower()
    return actions.get(key) or actions.get(request.method.lower())


class PolicyPermission(BasePermission):
    """The one gate every API view passes: authenticated, then the action's policy rule."""

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        if not isinstance(context, RequestContext):
            raise AuthenticationRequired()
        action = view_action(request, view)
        if action is None:
            raise PolicyNotAuthorized(action=f"{request.method} {request.path}")
        authorize(context, action)
        return True

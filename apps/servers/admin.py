"""Operators' view of servers: read-only records with their actions, faults, metadata, tags,
volumes and moves; server groups and migrations.

A server's state changes only through the services (one compare-and-set writer,
apps/servers/states.py), so nothing here is editable. The actions are the admin API's: "reset
state" calls `services.reset_state` (recorded as resetState, as os-resetState is) and
"delete" calls `services.delete_server` (as DELETE /servers/{id}: its host destroys the guest
and the conductor frees what it held), under the operator's session context and as the API's
policy table allows it.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timesince

from apps.identity.adminsite import operator_context
from apps.identity.context import RequestContext
from apps.servers import services
from apps.servers.models import (
    BlockDeviceMapping,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
    Server,
    ServerGroup,
    ServerGroupMember,
    ServerMetadata,
    ServerTag,
)
from computecloud.exceptions import ComputecloudError


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return list(self.fields or [])

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class InstanceActionInline(ReadOnlyInline):
    model = InstanceAction
    fields = ["action", "request_id", "user_id", "start_time", "finish_time", "message"]
    ordering = ["-start_time"]
    show_change_link = True


class InstanceFaultInline(ReadOnlyInline):
    model = InstanceFault
    fields = ["created_at", "code", "message", "host", "details"]


class MetadataInline(ReadOnlyInline):
    model = ServerMetadata
    fields = ["key", "value"]


class TagInline(ReadOnlyInline):
    model = ServerTag
    fields = ["tag"]


class BlockDeviceInline(ReadOnlyInline):
    model = BlockDeviceMapping
    fields = [
        "volume_id", "device_name", "boot_index", "source_type", "attached",
        "delete_on_termination",
    ]  # fmt: skip


class MigrationInline(ReadOnlyInline):
    model = Migration
    fields = ["migration_type", "status", "source_host", "dest_host", "created_at"]
    show_change_link = True


@admin.register(Server)
class ServerAdmin(ReadOnlyAdmin):
    list_display = [
        "name", "uuid", "project", "host", "flavor_name", "vm_state", "task_state",
        "power_state", "age",
    ]  # fmt: skip
    list_filter = ["vm_state", "task_state", "power_state", "locked", "host", "availability_zone"]
    search_fields = ["name", "uuid", "project__name", "project__id", "host", "flavor_id"]
    list_select_related = ["project"]
    list_max_show_all = 1000
    date_hierarchy = "created_at"
    inlines = [
        InstanceActionInline, InstanceFaultInline, MetadataInline, TagInline, BlockDeviceInline,
        MigrationInline,
    ]  # fmt: skip
    actions = ["reset_to_active", "reset_to_error", "delete_servers"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [*(f.name for f in Server._meta.fields), "flavor_name", "age"]

    @admin.display(description="flavor", ordering="flavor_id")
    def flavor_name(self, obj: Server) -> str:
        # The flavor as it was at build (a flavor deleted since still names its servers).
        return obj.flavor.get("name") or obj.flavor_id

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: Server) -> str:
        return timesince(obj.created_at, timezone.now())

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Server],
        policy_action: str,
        act: Callable[[RequestContext, Server], Any],
        done: str,
    ) -> None:
        """Run `act` on each server under the operator's context, as the API's policy allows
        it; a refusal is shown, and the other servers still get theirs."""
        for server in queryset:
            try:
                context = operator_context(
                    request,
                    policy_action,
                    {"project_id": server.project_id, "user_id": server.user_id},
                )
                act(context, server)
            except ComputecloudError as exc:
                self.message_user(request, f"{server.uuid}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{server.uuid} {done}.", messages.SUCCESS)

    def _reset(self, request: HttpRequest, queryset: QuerySet[Server], state: str) -> None:
        self._each(
            request,
            queryset,
            "os_compute_api:os-admin-actions:reset_state",
            lambda context, server: services.reset_state(
                context=context, server=server, state=state, request_id=context.request_id
            ),
            f"reset to {state}",
        )

    @admin.action(description="Reset state to active (os-resetState)")
    def reset_to_active(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        self._reset(request, queryset, "active")

    @admin.action(description="Reset state to error (os-resetState)")
    def reset_to_error(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        self._reset(request, queryset, "error")

    @admin.action(description="Delete selected servers (as DELETE /servers/{id})")
    def delete_servers(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        self._each(
            request,
            queryset,
            "os_compute_api:servers:delete",
            lambda context, server: services.delete_server(
                context=context, server=server, request_id=context.request_id
            ),
            "is being deleted",
        )


class InstanceActionEventInline(ReadOnlyInline):
    model = InstanceActionEvent
    fields = ["event", "host", "result", "start_time", "finish_time", "details", "traceback"]


@admin.register(InstanceAction)
class InstanceActionAdmin(ReadOnlyAdmin):
    list_display = ["action", "server", "request_id", "user_id", "start_time", "finish_time"]
    list_filter = ["action"]
    search_fields = ["request_id", "server__uuid", "server__name", "user_id", "project_id"]
    list_select_related = ["server"]
    date_hierarchy = "start_time"
    inlines = [InstanceActionEventInline]


@admin.register(Migration)
class MigrationAdmin(ReadOnlyAdmin):
    list_display = [
        "uuid", "server", "migration_type", "status", "source_host", "dest_host", "created_at",
    ]  # fmt: skip
    list_filter = ["migration_type", "status"]
    search_fields = ["uuid", "server__uuid", "server__name", "source_host", "dest_host"]
    list_select_related = ["server"]


class GroupMemberInline(ReadOnlyInline):
    model = ServerGroupMember
    fields = ["server"]


@admin.register(ServerGroup)
class ServerGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "uuid", "project", "policy", "created_at"]
    list_filter = ["policy"]
    search_fields = ["name", "uuid", "project__name", "project__id"]
    list_select_related = ["project"]
    inlines = [GroupMemberInline]

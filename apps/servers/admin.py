"""Operators' view of servers: read-only records with their actions and faults.

A server's state changes only through the services (one compare-and-set writer,
apps/servers/states.py), so nothing here is editable; a stuck server is reset with the
"reset state" actions, which call `services.reset_state` and are recorded as the instance
action resetState, as os-resetState is.
"""

import uuid

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.identity.authentication import session_context
from apps.servers import services
from apps.servers.models import InstanceAction, InstanceFault, Server
from computecloud.exceptions import ComputecloudError


class InstanceActionInline(admin.TabularInline):
    model = InstanceAction
    fields = ["action", "request_id", "user_id", "start_time", "finish_time", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-start_time"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class InstanceFaultInline(admin.TabularInline):
    model = InstanceFault
    fields = ["created_at", "code", "message", "host", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ["name", "uuid", "project", "host", "vm_state", "task_state", "created_at"]
    list_filter = ["vm_state", "task_state", "host"]
    search_fields = ["name", "uuid", "project__name", "host"]
    list_select_related = ["project"]
    inlines = [InstanceActionInline, InstanceFaultInline]
    actions = ["reset_to_active", "reset_to_error"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in Server._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # servers are created through the API: quota, scheduling, a build

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a delete is an operation on the host, through the API

    def _reset(self, request: HttpRequest, queryset: QuerySet[Server], state: str) -> None:
        context = session_context(request.user, request_id=f"req-{uuid.uuid4()}")
        if context is None:
            self.message_user(request, "Your user has no project to act in.", messages.ERROR)
            return
        for server in queryset:
            try:
                services.reset_state(
                    context=context, server=server, state=state, request_id=context.request_id
                )
            except ComputecloudError as exc:
                self.message_user(request, f"{server.uuid}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{server.uuid} reset to {state}.", messages.SUCCESS)

    @admin.action(description="Reset state to active (os-resetState)")
    def reset_to_active(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        self._reset(request, queryset, "active")

    @admin.action(description="Reset state to error (os-resetState)")
    def reset_to_error(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        self._reset(request, queryset, "error")

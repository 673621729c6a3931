"""Operators' view of hosts: compute services, nodes (with what is allocated against what they
have), aggregates.

Every row here is written by the hosts services, never by a form: a service is enabled,
disabled (with a reason), forced down or deleted through `services.set_service_status` and
`services.delete_service`, the functions os-services calls, as its policy allows, so the admin
and the API keep one set of rules. Whether a service is up is derived from its heartbeat,
never stored. Aggregates are read-only here; they are made and given hosts through
os-aggregates.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.hosts import services
from apps.hosts.api.usage import servers_on_host, with_usage
from apps.hosts.models import Aggregate, AggregateHost, ComputeNode, Service
from apps.identity.adminsite import operator_context
from computecloud.exceptions import ComputecloudError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DisableReasonForm(forms.Form):
    # The column's width, as os-services' serializer allows.
    reason = forms.CharField(max_length=255, required=False, label="Reason")


class ServiceStatusActions(ReadOnlyAdmin):
    """Enable, disable (with a reason), force down and back: on the services listed, or on
    the services of the nodes listed (`services_of`)."""

    def services_of(self, queryset: QuerySet[Any]) -> QuerySet[Service]:
        return queryset

    def _set(self, request: HttpRequest, queryset: QuerySet[Any], **status: Any) -> None:
        try:
            operator_context(request, "os_compute_api:os-services:update")
        except ComputecloudError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        chosen = list(self.services_of(queryset))
        for service in chosen:
            services.set_service_status(service=service, **status)
        names = ", ".join(str(service) for service in chosen)
        self.message_user(request, f"Updated: {names}.", messages.SUCCESS)

    @admin.action(description="Enable the selected hosts' services")
    def enable_services(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set(request, queryset, disabled=False)

    @admin.action(description="Disable the selected hosts' services (with a reason)")
    def disable_services(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        form = DisableReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._set(request, queryset, disabled=True, reason=form.cleaned_data["reason"])
            return None
        # The first post (from the list) or a refused reason: ask for it.
        return TemplateResponse(
            request,
            "admin/hosts/service/disable_with_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": "Disable services",
                "opts": self.model._meta,
                "services": self.services_of(queryset),
                "selected": [obj.pk for obj in queryset],
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Force the selected hosts' services down (their hosts are given up)")
    def force_down(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set(request, queryset, forced_down=True)

    @admin.action(description="Clear forced down on the selected hosts' services")
    def clear_forced_down(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._set(request, queryset, forced_down=False)


@admin.register(Service)
class ServiceAdmin(ServiceStatusActions):
    list_display = [
        "host", "binary", "is_up", "disabled", "disabled_reason", "forced_down", "last_seen_up",
    ]  # fmt: skip
    list_filter = ["binary", "disabled", "forced_down"]
    list_max_show_all = 1000  # a fleet on one page
    search_fields = ["host", "uuid", "disabled_reason"]
    actions = [
        "enable_services", "disable_services", "force_down", "clear_forced_down",
        "delete_services",
    ]  # fmt: skip

    @admin.display(boolean=True, description="up")
    def is_up(self, obj: Service) -> bool:
        return obj.is_up

    @admin.action(description="Delete selected services (refused while hosting servers)")
    def delete_services(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service in queryset:
            try:
                operator_context(request, "os_compute_api:os-services:delete")
                services.delete_service(
                    service=service, instances_on_host=servers_on_host(service.host)
                )
            except ComputecloudError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"{service} deleted.", messages.SUCCESS)


@admin.register(ComputeNode)
class ComputeNodeAdmin(ServiceStatusActions):
    list_display = [
        "host", "hypervisor_type", "status", "is_up", "vcpus_usage", "memory_usage",
        "disk_usage", "updated_at",
    ]  # fmt: skip
    list_filter = ["hypervisor_type", "service__disabled", "service__forced_down"]
    search_fields = ["host", "hypervisor_hostname", "host_ip"]
    list_select_related = ["service"]
    list_max_show_all = 1000
    actions = ["enable_services", "disable_services", "force_down", "clear_forced_down"]
    readonly_fields = [
        *(f.name for f in ComputeNode._meta.fields),
        "vcpus_usage", "memory_usage", "disk_usage",
    ]  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[ComputeNode]:
        return with_usage(super().get_queryset(request))

    def services_of(self, queryset: QuerySet[Any]) -> QuerySet[Service]:
        return Service.objects.filter(compute_node__in=queryset.values("pk"))

    @admin.display(description="status", ordering="service__disabled")
    def status(self, obj: ComputeNode) -> str:
        return "disabled" if obj.service.disabled else "enabled"

    @admin.display(boolean=True, description="up")
    def is_up(self, obj: ComputeNode) -> bool:
        return obj.service.is_up

    @admin.display(description="vCPUs used / total", ordering="vcpus_used")
    def vcpus_usage(self, obj: Any) -> str:
        return _usage(obj.vcpus_used, obj.vcpus)

    @admin.display(description="RAM MB used / total", ordering="memory_mb_used")
    def memory_usage(self, obj: Any) -> str:
        return _usage(obj.memory_mb_used, obj.memory_mb)

    @admin.display(description="disk GB used / total", ordering="local_gb_used")
    def disk_usage(self, obj: Any) -> str:
        return _usage(obj.local_gb_used, obj.local_gb)


def _usage(used: int, total: int) -> str:
    """``used / total (percent)``; allocation ratios may take `used` past 100%."""
    share = f" ({100 * used // total}%)" if total else ""
    return f"{used} / {total}{share}"


class AggregateHostInline(admin.TabularInline):
    model = AggregateHost
    fields = ["host"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Aggregate)
class AggregateAdmin(ReadOnlyAdmin):
    list_display = ["name", "availability_zone", "host_names", "created_at"]
    search_fields = ["name", "hosts__host"]
    readonly_fields = ["uuid", "name", "metadata", "created_at", "updated_at"]
    inlines = [AggregateHostInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Aggregate]:
        return super().get_queryset(request).prefetch_related("hosts")

    @admin.display(description="hosts")
    def host_names(self, obj: Aggregate) -> str:
        return ", ".join(sorted(h.host for h in obj.hosts.all()))

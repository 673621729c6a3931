"""Operators' view of per-project quota overrides, and the page that sets a project's quotas.

The rows are read-only: a project's limits (compute, network and volume) are set on one page
("set quotas", linked from each row and from the project's page) that calls the functions the
APIs call (`services.update_quotas` as PUT /os-quota-sets, `update_network_quotas` as
Neutron's, `update_volume_quotas` as Cinder's), with the same usage counters and policy
rules, all or nothing: a limit below what the project uses is refused (the compute ones unless
forced), as the APIs refuse it, and a refused form changes nothing.

Like the API, the admin is a front end: it gathers the usage from the owning apps with the
API's usage functions (the quotas app's core imports none of them)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from apps.identity.adminsite import operator_context
from apps.identity.models import Project
from apps.quotas import services
from apps.quotas.api.usage import project_usage, volume_usage
from apps.quotas.choices import NetworkQuotaResource, QuotaResource, VolumeQuotaResource
from apps.quotas.models import ProjectQuota
from computecloud.exceptions import ComputecloudError


@dataclass(frozen=True)
class Family:
    """One API's quotas: its resources, how to read, count and set them, and its policy."""

    title: str
    resources: list[str]
    policy: str
    limits: Callable[[str], dict[str, int]]
    usage: Callable[[str], dict[str, int]]
    update: Callable[..., Any]


FAMILIES = [
    Family(
        title="compute",
        resources=list(QuotaResource.values),
        policy="os_compute_api:os-quota-sets:update",
        limits=services.get_limits,
        usage=project_usage,
        update=lambda project, limits, force: services.update_quotas(
            project=project, limits=limits, force=force, count_usage=project_usage
        ),
    ),
    Family(
        title="network",
        resources=list(NetworkQuotaResource.values),
        policy="network:update_quota",
        limits=services.get_network_limits,
        usage=lambda project_id: {},  # Neutron accepts a limit below usage
        update=lambda project, limits, force: services.update_network_quotas(
            project=project, limits=limits
        ),
    ),
    Family(
        title="volume",
        resources=list(VolumeQuotaResource.values),
        policy="volume_extension:quotas:update",
        limits=services.get_volume_limits,
        usage=volume_usage,
        update=lambda project, limits, force: services.update_volume_quotas(
            project=project, limits=limits, count_usage=volume_usage
        ),
    ),
]


class SetQuotasForm(forms.Form):
    """One limit per resource (-1: unlimited); the services check the range and usage."""

    force = forms.BooleanField(
        required=False, help_text="Accept compute limits below what the project already uses."
    )

    def __init__(self, *args: Any, limits: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for resource, limit in limits.items():
            self.fields[resource] = forms.IntegerField(initial=limit)

    def changed_limits(self, family: Family) -> dict[str, int]:
        return {r: self.cleaned_data[r] for r in family.resources if r in self.changed_data}


@admin.register(ProjectQuota)
class ProjectQuotaAdmin(admin.ModelAdmin):
    list_display = ["project", "resource", "hard_limit", "updated_at", "set_link"]
    list_filter = ["resource"]
    search_fields = ["project__name", "project__id"]
    list_select_related = ["project"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="")
    def set_link(self, obj: ProjectQuota) -> str:
        url = reverse("admin:quotas_set", args=[obj.project_id])
        return format_html('<a href="{}">set quotas</a>', url)

    def get_urls(self) -> list[URLPattern]:
        set_view = self.admin_site.admin_view(self.set_quotas_view)
        return [path("set/<str:project_id>/", set_view, name="quotas_set"), *super().get_urls()]

    def set_quotas_view(self, request: HttpRequest, project_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        project = get_object_or_404(Project, pk=project_id)
        limits = {k: v for family in FAMILIES for k, v in family.limits(project.pk).items()}
        form = SetQuotasForm(request.POST or None, limits=limits)
        if request.method == "POST" and form.is_valid():
            try:
                self._set(request, project, form)
            except ComputecloudError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Quotas of {project} set.", messages.SUCCESS)
                changelist = reverse("admin:quotas_projectquota_changelist")
                return HttpResponseRedirect(f"{changelist}?q={project.pk}")
        sections = []
        for family in FAMILIES:
            used = family.usage(project.pk)
            rows = [(form[r], used.get(r, "")) for r in family.resources if r in form.fields]
            sections.append((family.title, rows))
        return TemplateResponse(
            request,
            "admin/quotas/projectquota/set_quotas.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Set the quotas of {project}",
                "opts": self.model._meta,
                "project": project,
                "form": form,
                "sections": sections,
            },
        )

    @staticmethod
    @transaction.atomic  # all the families or none
    def _set(request: HttpRequest, project: Project, form: SetQuotasForm) -> None:
        for family in FAMILIES:
            changed = form.changed_limits(family)
            if changed:
                operator_context(request, family.policy)
                family.update(project, changed, form.cleaned_data["force"])

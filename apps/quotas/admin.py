"""Operators' view of per-project quota overrides, and the page that sets a project's quotas.

The rows are read-only: a project's limits are set on one page ("set quotas", linked from each
row and from the project's page) that calls `services.update_quotas`, the function PUT
/os-quota-sets calls, with the same usage counter: a limit below what the project uses is
refused unless forced, as the API refuses it, and a refused form changes nothing.

Like the API, the admin is a front end: it gathers the usage from the owning apps with the
API's `project_usage` (the quotas app's core imports none of them)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from apps.identity.adminsite import operator_context
from apps.identity.models import Project
from apps.quotas import services
from apps.quotas.api.usage import project_usage
from apps.quotas.choices import QuotaResource
from apps.quotas.models import ProjectQuota
from computecloud.exceptions import ComputecloudError


class SetQuotasForm(forms.Form):
    """One limit per Nova resource (-1: unlimited); the service checks the range and usage."""

    force = forms.BooleanField(
        required=False, help_text="Accept limits below what the project already uses."
    )

    def __init__(self, *args: Any, limits: dict[str, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for resource in QuotaResource.values:
            self.fields[resource] = forms.IntegerField(initial=limits.get(resource))

    def changed_limits(self) -> dict[str, int]:
        return {r: self.cleaned_data[r] for r in QuotaResource.values if r in self.changed_data}


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
        limits = services.get_limits(project.pk)
        form = SetQuotasForm(request.POST or None, limits=limits)
        if request.method == "POST" and form.is_valid():
            try:
                operator_context(request, "os_compute_api:os-quota-sets:update")
                services.update_quotas(
                    project=project,
                    limits=form.changed_limits(),
                    force=form.cleaned_data["force"],
                    count_usage=project_usage,
                )
            except ComputecloudError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Quotas of {project} set.", messages.SUCCESS)
                changelist = reverse("admin:quotas_projectquota_changelist")
                return HttpResponseRedirect(f"{changelist}?q={project.pk}")
        return TemplateResponse(
            request,
            "admin/quotas/projectquota/set_quotas.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Set the quotas of {project}",
                "opts": self.model._meta,
                "project": project,
                "form": form,
                "usage": project_usage(project.pk),
            },
        )

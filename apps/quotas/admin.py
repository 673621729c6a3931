"""Operators' view of per-project quota overrides. Changes go through the service, which
refuses a limit below current usage (as the API does without ``force``).

Like the API, the admin is a front end: it gathers the usage from the owning apps with the
API's `project_usage` (the quotas app's core imports none of them)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.quotas import services
from apps.quotas.api.usage import project_usage
from apps.quotas.models import ProjectQuota
from computecloud.exceptions import ComputecloudError


@admin.register(ProjectQuota)
class ProjectQuotaAdmin(admin.ModelAdmin):
    list_display = ["project", "resource", "hard_limit", "updated_at"]
    list_filter = ["resource"]
    search_fields = ["project__name", "project__id"]
    list_select_related = ["project"]
    autocomplete_fields = ["project"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # An override is for one project and resource; change its limit, or delete it.
        if obj is not None:
            return ["project", "resource", *self.readonly_fields]
        return list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: ProjectQuota, form: Any, change: bool) -> None:
        try:
            services.update_quotas(
                project=obj.project,
                limits={obj.resource: obj.hard_limit},
                force=False,
                count_usage=project_usage,
            )
        except ComputecloudError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProjectQuota]) -> None:
        for quota in queryset:
            self.delete_model(request, quota)

"""Operators' view of the identity model. Changes that have consequences go through
`apps.identity.services`: disabling a user revokes their tokens, deleting a project that
still owns servers is refused, a role granted brings the roles it implies and a role removed
revokes the tokens it leaves without a role, tokens are revoked rather than edited."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.identity import services
from apps.identity.models import (
    ApplicationCredential,
    Domain,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
)
from apps.identity.tokens import revoke_token
from computecloud.exceptions import Conflict

# Access is by role assignments (below); Django's groups mean nothing here.
admin.site.unregister(Group)


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    autocomplete_fields = ["user", "project"]


class AssignsRolesMixin:
    """Saves the role inline through the service: a grant brings its implied roles, a removal
    revokes the user's tokens on a project where no role remains."""

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not RoleAssignment:
            super().save_formset(request, form, formset, change)  # type: ignore[misc]
            return
        formset.save(commit=False)
        for old in formset.deleted_objects:
            _unassign(old)
        for row, _fields in formset.changed_objects:
            _unassign(RoleAssignment.objects.select_related("role").get(pk=row.pk))
            _assign(row)
        for row in formset.new_objects:
            _assign(row)


def _assign(row: RoleAssignment) -> None:
    services.assign_roles(user=row.user, project=row.project, roles=[row.role.name])
    # The page links to the row it saved: the one the service wrote.
    row.pk = RoleAssignment.objects.get(user=row.user, project=row.project, role=row.role).pk


def _unassign(row: RoleAssignment) -> None:
    services.unassign_role(user=row.user, project=row.project, role=row.role.name)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "id"]
    readonly_fields = ["id"]


@admin.register(Project)
class ProjectAdmin(AssignsRolesMixin, admin.ModelAdmin):
    list_display = ["name", "id", "domain", "enabled", "created_at"]
    list_filter = ["enabled", "domain"]
    search_fields = ["name", "id", "description"]
    readonly_fields = ["id", "created_at", "quotas"]
    inlines = [RoleAssignmentInline]
    actions = ["enable_projects", "disable_projects"]

    @admin.display(description="quotas")
    def quotas(self, obj: Project) -> str:
        if obj.pk is None:
            return "-"
        # The quotas app's page (by URL name: identity sits below the quotas app).
        return format_html(
            '<a href="{}">set quotas</a>', reverse("admin:quotas_set", args=[obj.pk])
        )

    @admin.action(description="Enable selected projects")
    def enable_projects(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            services.set_project_enabled(project=project, enabled=True)

    @admin.action(description="Disable selected projects (their tokens stop working)")
    def disable_projects(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            services.set_project_enabled(project=project, enabled=False)

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        try:
            services.delete_project(project=obj)
        except Conflict as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            self.delete_model(request, project)


@admin.register(User)
class UserAdmin(AssignsRolesMixin, DjangoUserAdmin):
    list_display = ["username", "id", "domain", "default_project", "is_active", "is_superuser"]
    list_filter = ["is_active", "is_superuser", "domain"]
    search_fields = ["username", "id", "email"]
    readonly_fields = ["id", "last_login", "date_joined"]
    autocomplete_fields = ["default_project"]
    inlines = [RoleAssignmentInline]
    actions = ["disable_users", "revoke_tokens"]
    fieldsets = (
        (None, {"fields": ("id", "username", "password", "domain", "default_project")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Dashboard and admin access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "domain", "default_project", "password1", "password2"),
            },
        ),
    )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Same consequence as the service: a disabled user's tokens never come back.
            services.set_user_enabled(user=obj, enabled=False)

    @admin.action(description="Disable selected users and revoke their tokens")
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.set_user_enabled(user=user, enabled=False)

    @admin.action(description="Revoke every token of the selected users")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        revoked = sum(services.revoke_user_tokens(user=user) for user in queryset)
        self.message_user(request, f"{revoked} tokens revoked.")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["name", "id"]
    search_fields = ["name"]
    readonly_fields = ["id"]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "project"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]
    list_select_related = ["user", "role", "project"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A grant is given or removed (through the service), never turned into another.
        return ["user", "role", "project"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool
    ) -> None:
        if not change:
            _assign(obj)

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        _unassign(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleAssignment]) -> None:
        for row in queryset.select_related("user", "project", "role"):
            _unassign(row)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    """Tokens are read-only: only their hash is stored, and they end by expiry or revocation."""

    list_display = ["audit_id", "user", "project", "issued_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at", "project"]
    search_fields = ["audit_id", "user__username", "project__name"]
    list_select_related = ["user", "project"]
    date_hierarchy = "issued_at"
    actions = ["revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Token | None = None) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        for token in queryset:
            revoke_token(token)


@admin.register(ApplicationCredential)
class ApplicationCredentialAdmin(admin.ModelAdmin):
    """Read-only: only the secret's hash is stored, and a user makes their own credentials
    (`POST /v3/users/{id}/application_credentials`). Deleting goes through the service, which
    ends the tokens issued from the credential."""

    list_display = ["name", "user", "project", "unrestricted", "expires_at", "created_at"]
    list_filter = ["unrestricted", "project"]
    search_fields = ["name", "id", "user__username", "project__name"]
    list_select_related = ["user", "project"]
    exclude = ["secret_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ApplicationCredential | None = None
    ) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ApplicationCredential) -> None:
        services.delete_application_credential(credential=obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[ApplicationCredential]
    ) -> None:
        for credential in queryset:
            services.delete_application_credential(credential=credential)

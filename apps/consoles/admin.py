"""Operators' view of console tokens: read-only (a token is made through the API only)."""

from django.contrib import admin

from apps.consoles.models import ConsoleToken


@admin.register(ConsoleToken)
class ConsoleTokenAdmin(admin.ModelAdmin):
    list_display = ("server_uuid", "console_type", "host", "port", "user_id", "expires_at")
    list_filter = ("console_type",)
    search_fields = ("server_uuid", "user_id", "project_id")
    # The hash is useless to an operator and not worth showing.
    exclude = ("token_hash",)

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

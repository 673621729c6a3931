"""Operators' view of key pairs: read-only (a key pair is replaced, never edited); deletion
goes through the service."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.keypairs import services
from apps.keypairs.models import KeyPair


@admin.register(KeyPair)
class KeyPairAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "type", "fingerprint", "created_at"]
    list_filter = ["type"]
    search_fields = ["name", "user__username", "fingerprint"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "type", "public_key", "fingerprint", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: KeyPair) -> None:
        services.delete_key_pair(user_id=obj.user_id, name=obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KeyPair]) -> None:
        for keypair in queryset:
            self.delete_model(request, keypair)

from __future__ import annotations

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read only: the trail is append-only, for superusers as for everyone."""

    list_display = ("created_at", "team_slug", "username", "action", "outcome", "object_type",
                    "object_id", "address", "detail")  # fmt: skip
    list_filter = ("team_slug", "outcome", "action")
    search_fields = ("username", "object_id", "detail", "address")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

"""Operators read reports (with what the model was told); they are written by the app."""

from __future__ import annotations

from django.contrib import admin

from .models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "kind", "title", "status", "provider", "model", "created_at"]
    list_filter = ["status", "kind", "provider", "team"]
    search_fields = ["title", "team__slug"]
    date_hierarchy = "created_at"
    list_select_related = ["team"]
    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

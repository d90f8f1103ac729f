"""Operators see runs and their results read-only; deleting old runs is their action."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin, messages
from django.db.models import Model

from .models import AnalysisChunk, AnalysisRun, Anomaly, CustomerResult, Segment
from .services import analysis_run_fail


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ChunkInline(admin.TabularInline):
    model: type[Model] = AnalysisChunk  # SegmentInline shows another model the same way
    extra = 0
    can_delete = False
    # Tuples: one sequence fits both attributes' types (a list[str] is not a list of
    # field groups), and SegmentInline's shorter one fits the declaration here.
    fields: ClassVar[tuple[str, ...]] = (
        "number",
        "first_customer_id",
        "last_customer_id",
        "customers_count",
        "status",
    )
    readonly_fields: ClassVar[tuple[str, ...]] = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SegmentInline(ChunkInline):
    model = Segment
    fields = ("number", "name", "size")
    readonly_fields = fields


@admin.register(AnalysisRun)
class AnalysisRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "team",
        "status",
        "window_end",
        "customers_count",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "team"]
    search_fields = ["team__slug", "team__name"]
    date_hierarchy = "created_at"
    inlines = [SegmentInline, ChunkInline]
    actions = ["mark_failed"]

    @admin.action(description="Mark stuck runs as failed")
    def mark_failed(self, request, queryset) -> None:
        failed = sum(
            analysis_run_fail(run_id=run.pk, error=f"Marked as failed by {request.user}.")
            for run in queryset
        )
        messages.info(request, f"{failed} run(s) marked as failed.")


@admin.register(CustomerResult)
class CustomerResultAdmin(ReadOnlyAdmin):
    list_display = [
        "run",
        "customer",
        "decline_level",
        "segment",
        "relative_change_12m",
        "revenue_at_risk",
    ]
    list_filter = ["decline_level", "churned"]
    list_select_related = ["run__team", "customer"]
    search_fields = ["customer__external_id"]
    raw_id_fields = ["run", "customer"]
    exclude = ["components"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Anomaly)
class AnomalyAdmin(CustomerResultAdmin):
    list_display = ["run", "customer", "month", "revenue", "expected", "zscore"]
    list_filter = []
    exclude = []

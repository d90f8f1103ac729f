"""Saved reports: every generated text with the facts, prompt and model it came from.

A report belongs to a team and was written from one run's results (kept when the run is
deleted: its facts are on the report). Its history is read newest first per team, possibly
by kind or author; the indexes below lead with the team and end with the ordering, so a
page of 25 out of 10,000 reports reads 25 index entries and sorts nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Team


class ReportKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    SEGMENT = "segment", "Segment"
    GROUP = "group", "Group (segment × level)"
    PORTFOLIO = "portfolio", "Portfolio"


# What each kind of report is about: the scope keys it needs.
SCOPE_KEYS: dict[str, tuple[str, ...]] = {
    ReportKind.CUSTOMER: ("customer",),
    ReportKind.SEGMENT: ("segment",),
    ReportKind.GROUP: ("segment", "level"),
    ReportKind.PORTFOLIO: (),
}


class ReportStatus(models.TextChoices):
    PENDING = "PENDING", "Queued"
    RUNNING = "RUNNING", "Writing"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


FINISHED = (ReportStatus.DONE, ReportStatus.FAILED)


class Report(models.Model):
    # Indexed by the indexes below, which lead with the team.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reports", db_index=False)
    run = models.ForeignKey(
        "analytics.AnalysisRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    kind = models.CharField(max_length=12, choices=ReportKind.choices)
    # {"customer": "<uploaded id>"} | {"segment": n} | {"segment": n, "level": l} | {}
    scope = models.JSONField(default=dict, blank=True)
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    facts = models.JSONField(default=dict, blank=True)
    system_prompt = models.TextField(blank=True)
    prompt = models.TextField(blank=True)
    # The model's answer as it came (Markdown; rendered only through report_render_html).
    content = models.TextField(blank=True)
    provider = models.CharField(max_length=40, blank=True)
    model = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # reports.grounding.GroundingResult.as_dict(): numbers of the answer not in the facts.
    grounding = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life of its task, and how many times a worker claimed it (the watchdog).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at", "-id"], name="report_team_created"),
            models.Index(
                fields=["team", "kind", "-created_at", "-id"], name="report_team_kind_created"
            ),
            models.Index(
                fields=["team", "created_by", "-created_at", "-id"],
                name="report_team_author_created",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=[k.value for k in ReportKind]),
                name="report_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in ReportStatus]),
                name="report_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Report #{self.pk} of {self.team_id}: {self.title or self.kind} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def unmatched_numbers(self) -> list[dict]:
        return list((self.grounding or {}).get("unmatched", []))

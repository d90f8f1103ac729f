"""Backtests: the team's analysis as it stood at past cutoffs, judged by what happened next.

A backtest owns one analysis run per cutoff (``AnalysisRun.purpose`` = backtest: never the
team's results) and, once they have all succeeded, the comparison of each with the following
months, stored as ``results`` (see ``backtests.evaluation``). Immutable once finished.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Team
from analytics.models import ACTIVE, FINISHED, RunStatus

# A backtest moves through the states of an analysis run, and is as live as its runs.
BacktestStatus = RunStatus
BACKTEST_ACTIVE = ACTIVE
BACKTEST_FINISHED = FINISHED


class Backtest(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="backtests")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "YYYY-MM" months, oldest first: each is the last month an analysis may see.
    cutoffs = models.JSONField(default=list)
    horizon = models.PositiveSmallIntegerField(default=6)
    status = models.CharField(
        max_length=10, choices=BacktestStatus.choices, default=BacktestStatus.PENDING
    )
    stage = models.CharField(max_length=60, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # The analysis run of each cutoff, in the cutoffs' order.
    run_ids = models.JSONField(default=list, blank=True)
    # One entry per cutoff: what each level's customers did next, and the anchors beside them.
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"], name="backtest_team_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in BacktestStatus]),
                name="backtest_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(horizon__gte=1, horizon__lte=24),
                name="backtest_horizon_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Backtest #{self.pk} of {self.team} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in BACKTEST_ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in BACKTEST_FINISHED

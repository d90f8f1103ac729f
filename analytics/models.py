"""Analysis runs and their results.

A run analyses one team's revenue matrix for one window with one set of parameters. Its
results (one CustomerResult per customer, the anomalies, the segments) are written while it
runs and never change once it has finished; a new analysis is a new run. The team's current
results are those of its latest succeeded run (``current_run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import JSONField, Value

from accounts.models import Team
from analytics.core import CHART_SERIES
from customers.models import Customer

# Per-customer money (a mean, a standard deviation, a year's revenue at risk) and anomaly
# amounts: NUMERIC like the revenue they come from, with room for sums of 12 months.
MONEY_DIGITS = 18
MONEY_PLACES = 2
# The order of the series packed into CustomerResult.components.
COMPONENTS: tuple[str, ...] = CHART_SERIES

LEVEL_LABELS = {
    0: "Stable or growing",
    1: "Mild decline",
    2: "Moderate decline",
    3: "Sharp decline",
}


class RunFinishedError(Exception):
    """A finished run's results are immutable."""


class RunStatus(models.TextChoices):
    PENDING = "PENDING", "Queued"
    RUNNING = "RUNNING", "Running"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"


FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED)
ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)


class RunPurpose(models.TextChoices):
    ANALYSIS = "analysis", "Analysis"
    # A backtest's run on the data as it stood at a cutoff: never the team's results.
    BACKTEST = "backtest", "Backtest"


class AnalysisRunQuerySet(models.QuerySet):
    def analyses(self) -> AnalysisRunQuerySet:
        """Runs whose results the team's pages may show (not a backtest's)."""
        return self.filter(purpose=RunPurpose.ANALYSIS)

    def succeeded(self) -> AnalysisRunQuerySet:
        return self.filter(status=RunStatus.SUCCEEDED)

    def latest_first(self) -> AnalysisRunQuerySet:
        return self.order_by("-created_at", "-id")


class AnalysisRun(models.Model):
    # Indexed by run_team_status_created, which leads with the team.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="analysis_runs", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(
        max_length=10, choices=RunPurpose.choices, default=RunPurpose.ANALYSIS
    )
    # analytics.core.Params.as_dict() of the parameters the run used.
    params = models.JSONField(default=dict)
    # First days of the first and last month analysed (the matrix's columns).
    window_start = models.DateField()
    window_end = models.DateField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    stage = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    customers_count = models.PositiveIntegerField(default=0)
    level_0_count = models.PositiveIntegerField(default=0)
    level_1_count = models.PositiveIntegerField(default=0)
    level_2_count = models.PositiveIntegerField(default=0)
    level_3_count = models.PositiveIntegerField(default=0)
    insufficient_count = models.PositiveIntegerField(default=0)
    anomalies_count = models.PositiveIntegerField(default=0)
    segments_count = models.PositiveSmallIntegerField(default=0)
    silhouette = models.FloatField(null=True, blank=True)
    # Customers per decline level 0..3 and insufficient data, per segment number ("none":
    # not clustered), counted when the run finished: the segments page reads it instead of
    # grouping the run's results (measured 95 ms at 100,000 customers). Empty for runs
    # finished before it existed, whose page still groups.
    segment_level_mix = models.JSONField(default=dict, blank=True)
    # What the dashboard shows that adds up every customer or every revenue record (KPIs, the
    # level × month heatmap, the movers against the previous run), computed once when the run
    # finished (analytics.services.dashboard.DashboardAggregates). Empty for runs finished
    # before it existed, whose dashboard still computes them per visit.
    # (db_default: a worker of the previous release, mid-deploy, inserts runs without it.)
    summary = models.JSONField(default=dict, blank=True, db_default=Value({}, JSONField()))
    # Seconds per stage; chunk stages are summed over chunks (they may overlap in time).
    timings = models.JSONField(default=dict, blank=True)
    # Human-readable facts about how the run was set up, e.g. a partial month left out.
    notes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life from a task (or the last time the watchdog sent it again): lets the
    # watchdog and a new run tell a run whose worker vanished.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Times a worker claimed it (a worker that died while planning leaves it RUNNING).
    attempts = models.PositiveSmallIntegerField(default=0)

    objects = AnalysisRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "status", "-created_at"], name="run_team_status_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in RunStatus]),
                name="run_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(window_start__lte=models.F("window_end")),
                name="run_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.team} ({self.get_status_display()})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and _stored_status(self.pk) in FINISHED:
            raise RunFinishedError(f"Run #{self.pk} has finished; start a new run instead.")
        super().save(*args, **kwargs)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def months(self) -> list[date]:
        """The first day of every month of the window, oldest first."""
        first = np.datetime64(self.window_start, "M")
        last = np.datetime64(self.window_end, "M")
        return [m.item() for m in np.arange(first, last + 1).astype("datetime64[D]")]

    @property
    def customers_per_level(self) -> tuple[int, int, int, int]:
        """Customers at decline levels 0..3 (insufficient data: ``insufficient_count``)."""
        return (self.level_0_count, self.level_1_count, self.level_2_count, self.level_3_count)

    @property
    def level_counts(self) -> list[tuple[str, int]]:
        counts = self.customers_per_level
        rows = [(f"{level} · {LEVEL_LABELS[level]}", counts[level]) for level in range(4)]
        return [*rows, ("Insufficient data", self.insufficient_count)]


def _stored_status(run_id: int) -> str | None:
    return AnalysisRun.objects.filter(pk=run_id).values_list("status", flat=True).first()


class ChunkStatus(models.TextChoices):
    PENDING = "PENDING", "Queued"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"


class AnalysisChunk(models.Model):
    """One slice of a run's customers (a contiguous range of customer ids), analysed by one
    task. Its status is set in the same transaction as its results are written, so a task
    delivered twice writes them once."""

    run = models.ForeignKey(
        AnalysisRun, on_delete=models.CASCADE, related_name="chunks", db_index=False
    )
    number = models.PositiveIntegerField()
    first_customer_id = models.BigIntegerField()
    last_customer_id = models.BigIntegerField()
    customers_count = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    timings = models.JSONField(default=dict, blank=True)
    # The chunk's customers' revenue per level (0..3) and month, summed while their matrix
    # was in memory: the run's heatmap adds these up instead of joining every revenue record.
    level_month_revenue = models.JSONField(
        default=list, blank=True, db_default=Value([], JSONField())
    )
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Times a task started on it: one that keeps killing its worker fails the run.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="chunk_unique_run_number"),
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} chunk {self.number} ({self.status})"


class _RunResult(models.Model):
    """Rows that belong to a run: written by the run's tasks, read-only afterwards."""

    run_id: int  # every subclass has its ``run`` foreign key

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if _stored_status(self.run_id) in FINISHED:
            raise RunFinishedError(f"Run #{self.run_id} has finished; its results are final.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if _stored_status(self.run_id) in FINISHED:
            raise RunFinishedError(
                f"Run #{self.run_id} has finished; delete the run to remove its results."
            )
        return super().delete(*args, **kwargs)


@dataclass(frozen=True)
class RiskSort:
    """A sortable column of the risk table: the one declaration its selector and its index
    are both built from (``analytics/selectors/risk.py``, ``CustomerResult.Meta.indexes``)."""

    column: str
    # The direction a first click sorts in: the "worst first" direction.
    first: Literal["asc", "desc"]
    # Suffix of the (run, column, id) index that serves it; None for no index of its own.
    # (A frozen dataclass, not a NamedTuple: this field would hide tuple.index.)
    index: str | None
    # Whether the column can be empty (a test checks this against the field): the index
    # then holds only the values, and the table lists the empties last, in a second read.
    nullable: bool
    # Where the value lives when it is not the result's own column (the customer's).
    lookup: str = ""

    @property
    def path(self) -> str:
        return self.lookup or self.column


RISK_SORTS: tuple[RiskSort, ...] = (
    RiskSort("decline_level", "desc", "level", nullable=True),
    # Not indexed: the finish step sets the segment on every row, and an unindexed column
    # lets PostgreSQL update in place (HOT, see migration 0003).
    RiskSort("segment", "asc", None, nullable=True),
    RiskSort("revenue_at_risk", "desc", "risk", nullable=False),
    RiskSort("p_active", "asc", "active_p", nullable=True),
    RiskSort("expected_revenue_12m", "desc", "expected", nullable=True),
    RiskSort("relative_change_12m", "asc", "change", nullable=True),
    RiskSort("p_value", "asc", "p", nullable=True),
    RiskSort("slope", "asc", "slope", nullable=True),
    RiskSort("revenue_mean", "desc", "mean", nullable=True),
    RiskSort("cv", "desc", "cv", nullable=True),
    RiskSort("active_months", "desc", "active", nullable=False),
    RiskSort("onset_month", "desc", "onset", nullable=True),
    RiskSort("anomaly_count", "desc", "anomalies", nullable=False),
    # The team's follow-up status, in workflow order (see analytics/selectors/risk.py).
    RiskSort("status", "asc", None, nullable=False, lookup="customer__follow_up"),
)


class CustomerResult(_RunResult):
    """Every figure of docs/method.md for one customer in one run (the export's columns)."""

    # No index of its own: the unique constraint below leads with the run.
    run = models.ForeignKey(
        AnalysisRun, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="results")
    # 0..3, NULL for insufficient data (never silently "stable").
    decline_level = models.SmallIntegerField(null=True, blank=True)
    segment = models.IntegerField(null=True, blank=True)
    slope = models.FloatField(null=True, blank=True)
    slope_low = models.FloatField(null=True, blank=True)
    slope_high = models.FloatField(null=True, blank=True)
    relative_change_12m = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    revenue_mean = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    revenue_std = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    cv = models.FloatField(null=True, blank=True)
    resid_std = models.FloatField(null=True, blank=True)
    seasonal_strength = models.FloatField(null=True, blank=True)
    active_months = models.PositiveSmallIntegerField(default=0)
    n_months = models.PositiveSmallIntegerField(default=0)
    churned = models.BooleanField(default=False)
    onset_month = models.DateField(null=True, blank=True)
    revenue_at_risk = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    anomaly_count = models.PositiveSmallIntegerField(default=0)
    explanation = models.TextField(blank=True)
    # The purchase process (docs/method.md): P(still buying at its own rhythm), and the revenue
    # expected over the next 12 months; null for insufficient data.
    p_active = models.FloatField(null=True, blank=True)
    expected_revenue_12m = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    # The chart's series, COMPONENTS × the run's months, NaN outside the customer's span
    # (see analytics.core.CHART_SERIES), packed by ``pack_series``: JSON text of 100,000 ×
    # 288 floats costs seconds to build and several times the space; ``series()`` decodes it.
    components = models.BinaryField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="result_unique_run_customer"),
            models.CheckConstraint(
                condition=models.Q(decline_level__isnull=True)
                | models.Q(decline_level__gte=0, decline_level__lte=3),
                name="result_level_range",
            ),
        ]
        indexes = [
            # The risk table (RISK_SORTS): one index per sortable column, (run, column, id):
            # read forwards or backwards it gives a page in either direction without sorting
            # the run. Nullable columns index only their values.
            *[
                models.Index(
                    fields=["run", sort.column, "id"],
                    name=f"result_sort_{sort.index}",
                    condition=models.Q(**{f"{sort.column}__isnull": False})
                    if sort.nullable
                    else None,
                )
                for sort in RISK_SORTS
                if sort.index
            ],
            # "Insufficient data" (level=none): the level index holds only levels.
            models.Index(
                fields=["run", "id"],
                name="result_insufficient",
                condition=models.Q(decline_level__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id}, customer {self.customer_id}: level {self.decline_level}"

    def series(self) -> dict[str, list[float | None]]:
        """{name: [...] for each of COMPONENTS} over the run's months,
        None outside the customer's span (or when there is nothing stored)."""
        if not self.components:
            return {name: [] for name in COMPONENTS}
        values = unpack_series(bytes(self.components), len(COMPONENTS))
        return {
            name: [None if np.isnan(v) else float(v) for v in row]
            for name, row in zip(COMPONENTS, values, strict=True)
        }


def pack_series(stacked: np.ndarray) -> np.ndarray:
    """Chart series (customers × series × months) as bytes per customer: a float32 scale
    (the customer's largest absolute value) then float16 values relative to it. A chart
    needs a thousandth of the range, not float32's millionth, and half the bytes halve the
    time the analysis spends writing them."""
    magnitude = np.where(np.isnan(stacked), 0.0, np.abs(stacked)).max(axis=(1, 2))
    scale = np.where(np.isfinite(magnitude) & (magnitude > 0), magnitude, 1.0)
    relative = (stacked / scale[:, None, None]).astype("<f2").reshape(len(stacked), -1)
    header = scale.astype("<f4")[:, None].view(np.uint8)
    return np.hstack([header, relative.view(np.uint8)])


def unpack_series(blob: bytes, count: int) -> np.ndarray:
    scale = np.frombuffer(blob[:4], dtype="<f4")[0]
    relative = np.frombuffer(blob[4:], dtype="<f2").reshape(count, -1)
    return relative.astype(np.float64) * float(scale)


class Anomaly(_RunResult):
    # No index of its own: the unique constraint below leads with the run.
    run = models.ForeignKey(
        AnalysisRun, on_delete=models.CASCADE, related_name="anomalies", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="anomalies")
    month = models.DateField()
    revenue = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    expected = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    zscore = models.FloatField()

    class Meta:
        verbose_name_plural = "anomalies"
        ordering = ["run", "customer", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "customer", "month"], name="anomaly_unique_run_customer_month"
            ),
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id}, customer {self.customer_id}, {self.month:%Y-%m}"


class Segment(_RunResult):
    # No index of its own: the unique constraint below leads with the run.
    run = models.ForeignKey(
        AnalysisRun, on_delete=models.CASCADE, related_name="segments", db_index=False
    )
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    # Mean features in original units and the z-scored profile for the radar chart.
    features = models.JSONField(default=dict)
    profile = models.JSONField(default=dict)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="segment_unique_run_number"),
        ]

    def __str__(self) -> str:
        return f"Run #{self.run_id} segment {self.number}: {self.name}"


def previous_analysis(run: AnalysisRun) -> AnalysisRun | None:
    """The team's succeeded analysis just before ``run`` (by creation, as pages order runs):
    what movers, alerts, digests and briefs compare ``run`` with."""
    earlier = AnalysisRun.objects.filter(team_id=run.team_id).analyses().succeeded()
    earlier = earlier.filter(
        models.Q(created_at__lt=run.created_at) | models.Q(created_at=run.created_at, pk__lt=run.pk)
    )
    return earlier.latest_first().first()


def current_run(team: Team) -> AnalysisRun | None:
    """The run whose results the team's pages show: its latest succeeded run."""
    return AnalysisRun.objects.filter(team=team).analyses().succeeded().latest_first().first()

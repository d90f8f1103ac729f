"""The customer diagnostics page's data: read what a run stored, never recompute it.

One function, ``customer_diagnostics``, gathers everything the page shows in a fixed number of
queries (the customer, the team's current run, the customer's result in it, its revenue over
the run's window, its anomalies, its level in every succeeded run). The only arithmetic here
is presentation: the facts "initial vs latest" and "average monthly change" read the stored
monthly revenue and the stored underlying level (the core's piecewise fit) at the ends of the
customer's span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from accounts.models import Team
from analytics.core import CHART_SERIES
from analytics.models import (
    LEVEL_LABELS,
    AnalysisRun,
    Anomaly,
    CustomerResult,
    RunPurpose,
    RunStatus,
    Segment,
    current_run,
)
from customers.models import Customer, RevenueRecord

# The series the chart draws, in the order of its legend: the core's, but ``seasonal``,
# which is only a part of ``expected``.
CHART_LINES: tuple[str, ...] = tuple(name for name in CHART_SERIES if name != "seasonal")


@dataclass(frozen=True)
class LevelHistoryRow:
    run_id: int
    run_created_at: datetime
    window_end: date
    decline_level: int | None
    is_current: bool

    @property
    def level_label(self) -> str:
        if self.decline_level is None:
            return "Insufficient data"
        return LEVEL_LABELS[self.decline_level]


@dataclass(frozen=True)
class CustomerFacts:
    """Initial vs latest revenue and the average monthly change over the customer's span."""

    first_month: date
    latest_month: date
    months: int
    initial_revenue: float | None
    latest_revenue: float | None
    initial_level: float | None  # the stored underlying level in the first month
    latest_level: float | None
    average_monthly_change: float | None  # currency per month, underlying level
    average_monthly_rate: float | None  # compounded fraction per month (−0.02 = −2 %)
    negative_months: int


@dataclass(frozen=True)
class CustomerDiagnostics:
    customer: Customer
    run: AnalysisRun | None
    result: CustomerResult | None
    history: list[LevelHistoryRow]
    # Below: empty when the customer has no result in the current run.
    months: list[date] = field(default_factory=list)
    revenue: list[float | None] = field(default_factory=list)
    series: dict[str, list[float | None]] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    facts: CustomerFacts | None = None
    segment_name: str = ""

    @property
    def in_current_run(self) -> bool:
        return self.result is not None

    @property
    def monthly_rows(self) -> list[dict]:
        """The chart as a table (its text alternative): one row per month."""
        anomalous = {a.month for a in self.anomalies}

        def value(name: str, index: int) -> float | None:
            values = self.series.get(name) or []
            return values[index] if index < len(values) else None

        return [
            {
                "month": month,
                "revenue": revenue,
                "expected": value("expected", i),
                "underlying": value("underlying", i),
                "moving_average": value("moving_average", i),
                "anomaly": month in anomalous,
            }
            for i, (month, revenue) in enumerate(zip(self.months, self.revenue, strict=True))
        ]

    def chart_data(self) -> dict:
        """What static/js/customer_chart.js draws: every list aligned with ``months``."""
        result = self.result
        if result is None:
            return {}
        return {
            "customer": self.customer.external_id,
            "months": [f"{month:%Y-%m}" for month in self.months],
            "revenue": self.revenue,
            "series": {name: self.series.get(name, []) for name in CHART_LINES},
            "anomalies": [
                {
                    "month": f"{a.month:%Y-%m}",
                    "revenue": float(a.revenue),
                    "expected": None if a.expected is None else float(a.expected),
                    "zscore": a.zscore,
                }
                for a in self.anomalies
            ],
            "onset": f"{result.onset_month:%Y-%m}" if result.onset_month else None,
            "level": result.decline_level,
        }


def customer_diagnostics(*, team: Team, external_id: str) -> CustomerDiagnostics | None:
    """The page's data, or None when the team has no customer with this uploaded id."""
    customer = Customer.objects.filter(team=team, external_id=external_id).first()
    if customer is None:
        return None
    run = current_run(team)
    result = (
        CustomerResult.objects.filter(run=run, customer=customer).first()
        if run is not None
        else None
    )
    history = _level_history(team=team, customer=customer, current=run)
    if result is None:
        return CustomerDiagnostics(customer=customer, run=run, result=None, history=history)
    assert run is not None  # the result is the current run's
    months, revenue, series = _span(customer, run, result)
    anomalies = list(Anomaly.objects.filter(run=run, customer=customer).order_by("month"))
    segment_name = ""
    if result.segment is not None:
        names = Segment.objects.filter(run=run, number=result.segment).values_list(
            "name", flat=True
        )
        segment_name = names.first() or ""
    return CustomerDiagnostics(
        segment_name=segment_name,
        customer=customer,
        run=run,
        result=result,
        history=history,
        months=months,
        revenue=revenue,
        series=series,
        anomalies=anomalies,
        # No trend is judged on insufficient data: no underlying level to compare either
        # (its flat fill would read as "12.08 to 12.08, 0.0 per month").
        facts=_facts(
            months,
            revenue,
            series.get("underlying", []) if result.decline_level is not None else [],
        ),
    )


def _span(
    customer: Customer, run: AnalysisRun, result: CustomerResult
) -> tuple[list[date], list[float | None], dict[str, list[float | None]]]:
    """The run's months from the customer's first month on, its revenue in each (0 in a
    month without revenue, as the analysis read it) and the stored series, all aligned."""
    months = run.months
    amounts = dict(
        RevenueRecord.objects.filter(
            team_id=run.team_id,
            customer=customer,
            month__gte=run.window_start,
            month__lte=run.window_end,
        ).values_list("month", "amount")
    )
    first = customer.first_month or run.window_start
    start = next((i for i, month in enumerate(months) if month >= first), len(months))
    revenue: list[float | None] = [float(amounts.get(month, 0)) for month in months[start:]]
    series = {
        name: values[start:] if len(values) == len(months) else []
        for name, values in result.series().items()
    }
    if all(value is None or value >= 0 for value in revenue) and series.get("trend"):
        # STL's additive trend can dip below zero after a collapse; a customer whose revenue
        # never does is not shown heading for negative revenue.
        series["trend"] = [None if v is None else max(v, 0.0) for v in series["trend"]]
    return months[start:], revenue, series


def _facts(
    months: list[date], revenue: list[float | None], underlying: list[float | None]
) -> CustomerFacts | None:
    if not months:
        return None
    initial_level = underlying[0] if underlying else None
    latest_level = underlying[-1] if underlying else None
    steps = len(months) - 1
    change = rate = None
    if initial_level is not None and latest_level is not None and steps > 0:
        change = (latest_level - initial_level) / steps
        if initial_level > 0 and latest_level > 0:
            rate = math.pow(latest_level / initial_level, 1 / steps) - 1
    return CustomerFacts(
        first_month=months[0],
        latest_month=months[-1],
        months=len(months),
        initial_revenue=revenue[0],
        latest_revenue=revenue[-1],
        initial_level=initial_level,
        latest_level=latest_level,
        average_monthly_change=change,
        average_monthly_rate=rate,
        negative_months=sum(1 for value in revenue if value is not None and value < 0),
    )


def _level_history(
    *, team: Team, customer: Customer, current: AnalysisRun | None
) -> list[LevelHistoryRow]:
    """The customer's level in each of the team's succeeded runs, newest first (one query)."""
    rows = (
        CustomerResult.objects.filter(
            customer=customer,
            run__team=team,
            run__status=RunStatus.SUCCEEDED,
            run__purpose=RunPurpose.ANALYSIS,  # a backtest's runs judge the past, not today
        )
        .order_by("-run__created_at", "-run_id")
        .values_list("run_id", "run__created_at", "run__window_end", "decline_level")
    )
    current_id = current.pk if current is not None else None
    return [
        LevelHistoryRow(run_id, created_at, window_end, level, run_id == current_id)
        for run_id, created_at, window_end, level in rows
    ]

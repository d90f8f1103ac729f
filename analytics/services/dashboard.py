"""The dashboard's figures: read the team's stored results, never recompute them.

``dashboard_summary`` gathers everything the page shows in a fixed number of set-based
queries, whatever the portfolio's size: the team's runs (one), the KPIs (two: sums and
counts, then the middle of the sorted 12-month changes), the level × month heatmap (one
aggregate over the revenue joined to the run's results) and the movers against the previous
succeeded run (one aggregate and one short list per kind, on a join of the two runs' results).

The level counts come from the run's row, written when it finished.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, F, FilteredRelation, Q, QuerySet, Sum

from accounts.models import Team
from analytics.models import LEVEL_LABELS, AnalysisRun, CustomerResult, RunStatus
from customers.models import Customer, RevenueRecord

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _PreviousFigures(TypedDict):
        """What ``_paired_results`` annotates a run's result with from the previous run's."""

        previous_level: int | None
        previous_risk: Decimal
        risk_change: Decimal

    PairedResults = QuerySet[WithAnnotations[CustomerResult, _PreviousFigures]]

LEVELS = tuple(LEVEL_LABELS)
HIGH_RISK_LEVEL = 2  # levels 2 and 3 are "high risk"
MOVERS_SHOWN = 10


@dataclass(frozen=True)
class Kpis:
    customers: int
    high_risk: int
    high_risk_share: float | None  # of the customers analysed
    revenue_at_risk: Decimal
    median_change_12m: float | None  # over the customers that have one
    insufficient: int

    @property
    def high_risk_percent(self) -> float | None:
        return None if self.high_risk_share is None else self.high_risk_share * 100


@dataclass(frozen=True)
class Heatmap:
    """Average monthly revenue per customer of each level (rows 0..3) in each month of the
    run's window. A month without revenue counts as 0, so a level whose customers churn
    shows it instead of averaging over the customers that are left."""

    months: list[date]
    customers: list[int]  # per level
    averages: list[list[float | None]]  # levels × months; None for a level with no customer

    def rows(self) -> list[tuple[int, int, list[float | None]]]:
        """(level, customers, averages per month) for each level."""
        return list(zip(LEVELS, self.customers, self.averages, strict=True))

    def month_rows(self) -> list[tuple[date, tuple[float | None, ...]]]:
        """(month, averages per level) for each month: the table under the chart."""
        return list(zip(self.months, zip(*self.averages, strict=True), strict=True))


@dataclass(frozen=True)
class Mover:
    external_id: str
    decline_level: int | None
    previous_level: int | None
    revenue_at_risk: Decimal
    previous_revenue_at_risk: Decimal
    risk_change: Decimal
    is_new: bool = False  # in no previous run: entered level 3 on arrival


@dataclass(frozen=True)
class MoverList:
    key: str
    title: str
    description: str
    total: int
    movers: list[Mover]


@dataclass(frozen=True)
class Movers:
    previous_run: AnalysisRun
    lists: list[MoverList]
    compared: int  # customers in both runs
    new_customers: int = 0  # new to the analysis and at level 3 (counted in "entered level 3")


@dataclass(frozen=True)
class Dashboard:
    run: AnalysisRun | None  # the current results: the latest succeeded run
    latest_run: AnalysisRun | None  # the latest run of any status
    kpis: Kpis | None = None
    heatmap: Heatmap | None = None
    movers: Movers | None = None
    distribution: list[tuple[int | None, str, int]] = field(default_factory=list)

    @property
    def latest_is_current(self) -> bool:
        return self.run is not None and self.latest_run is not None and self.latest_run == self.run


def dashboard_summary(*, team: Team) -> Dashboard:
    latest_run = AnalysisRun.objects.filter(team=team).analyses().latest_first().first()
    succeeded = list(
        AnalysisRun.objects.filter(team=team, status=RunStatus.SUCCEEDED)
        .analyses()
        .latest_first()[:2]
    )
    if not succeeded:
        return Dashboard(run=None, latest_run=latest_run)
    run = succeeded[0]
    previous = succeeded[1] if len(succeeded) > 1 else None
    return Dashboard(
        run=run,
        latest_run=latest_run,
        kpis=run_kpis(run=run),
        heatmap=level_month_heatmap(run=run),
        movers=run_movers(run=run, previous=previous) if previous else None,
        distribution=level_distribution(run=run),
    )


def level_distribution(*, run: AnalysisRun) -> list[tuple[int | None, str, int]]:
    """(level or None, label, customers) for levels 0..3 and insufficient data."""
    counts = run.customers_per_level
    rows = [(level, f"{level} · {LEVEL_LABELS[level]}", counts[level]) for level in LEVELS]
    return [*rows, (None, "Insufficient data", run.insufficient_count)]


def run_kpis(*, run: AnalysisRun) -> Kpis:
    results = CustomerResult.objects.filter(run=run)
    totals = results.aggregate(risk=Sum("revenue_at_risk"), changes=Count("relative_change_12m"))
    high_risk = run.level_2_count + run.level_3_count
    return Kpis(
        customers=run.customers_count,
        high_risk=high_risk,
        high_risk_share=high_risk / run.customers_count if run.customers_count else None,
        revenue_at_risk=totals["risk"] or Decimal(0),
        median_change_12m=column_median(results, "relative_change_12m", totals["changes"]),
        insufficient=run.insufficient_count,
    )


def column_median(results: QuerySet, column: str, count: int) -> float | None:
    """The middle of the sorted non-null values (the mean of the two middle ones for an even
    count), read with LIMIT/OFFSET: the same on SQLite and PostgreSQL."""
    if not count:
        return None
    low = (count - 1) // 2
    middle = list(
        results.filter(**{f"{column}__isnull": False})
        .order_by(column)
        .values_list(column, flat=True)[low : count // 2 + 1]
    )
    return sum(float(value) for value in middle) / len(middle)  # money is Decimal


def level_month_heatmap(*, run: AnalysisRun) -> Heatmap:
    months = run.months
    totals = (
        RevenueRecord.objects.filter(
            team_id=run.team_id,
            month__gte=run.window_start,
            month__lte=run.window_end,
            customer__results__run=run,
            customer__results__decline_level__isnull=False,
        )
        .values("month", level=F("customer__results__decline_level"))
        .annotate(total=Sum("amount"))
        .order_by()
    )
    by_cell = {(row["level"], row["month"]): row["total"] for row in totals}
    customers = list(run.customers_per_level)
    averages = [
        [
            round(float(by_cell.get((level, month)) or 0) / customers[level], 2)
            if customers[level]
            else None
            for month in months
        ]
        for level in LEVELS
    ]
    return Heatmap(months=months, customers=customers, averages=averages)


# Movers: (key, title, description, condition, ordering) on the current results annotated
# with the previous run's level and revenue at risk of the same customer.
ENTERED_3 = Q(decline_level=3) & (Q(previous_level__lt=3) | Q(previous_level__isnull=True))
MOVER_KINDS: tuple[tuple[str, str, str, Q, tuple[str, ...]], ...] = (
    (
        "entered-3",
        "Entered level 3",
        "Now in sharp decline, not before (customers new to the analysis included).",
        ENTERED_3,
        ("-revenue_at_risk", "pk"),
    ),
    (
        "worsened",
        "Worsened",
        "Moved up a level, below level 3.",
        Q(decline_level__lt=3, decline_level__gt=F("previous_level")),
        ("-revenue_at_risk", "pk"),
    ),
    (
        "recovered",
        "Recovered",
        "Moved down at least one level.",
        Q(decline_level__lt=F("previous_level")),
        ("risk_change", "pk"),
    ),
    (
        "risk-up",
        "Largest increases in revenue at risk",
        "Revenue at risk now minus before.",
        Q(risk_change__gt=0),
        ("-risk_change", "pk"),
    ),
)


def run_movers(*, run: AnalysisRun, previous: AnalysisRun) -> Movers:
    """The customers of both runs whose level or revenue at risk changed the most."""
    paired = _paired_results(run=run, previous=previous)
    counts = paired.aggregate(
        compared=Count("pk"),
        **{key: Count("pk", filter=condition) for key, _, _, condition, _ in MOVER_KINDS},
    )
    lists = [
        MoverList(
            key=key,
            title=title,
            description=description,
            total=counts[key],
            movers=_movers(paired.filter(condition).order_by(*ordering)) if counts[key] else [],
        )
        for key, title, description, condition, ordering in MOVER_KINDS
    ]
    new = _new_at_level_3(run=run, previous=previous)
    new_count = new.count()
    if new_count:  # a customer that arrives in sharp decline has entered level 3 too
        entered = lists[0]
        arrivals = [
            Mover(external_id, level, None, risk, Decimal(0), risk, is_new=True)
            for external_id, level, risk in new.order_by("-revenue_at_risk", "pk").values_list(
                "customer__external_id", "decline_level", "revenue_at_risk"
            )[:MOVERS_SHOWN]
        ]
        merged = sorted([*entered.movers, *arrivals], key=lambda m: -m.revenue_at_risk)
        lists[0] = dataclasses.replace(
            entered, total=entered.total + new_count, movers=merged[:MOVERS_SHOWN]
        )
    return Movers(
        previous_run=previous, lists=lists, compared=counts["compared"], new_customers=new_count
    )


def _new_at_level_3(*, run: AnalysisRun, previous: AnalysisRun) -> QuerySet[CustomerResult]:
    """The run's level-3 customers the previous run did not have."""
    before = CustomerResult.objects.filter(run=previous).values("customer_id")
    return CustomerResult.objects.filter(run=run, decline_level=3).exclude(customer_id__in=before)


def _paired_results(*, run: AnalysisRun, previous: AnalysisRun) -> PairedResults:
    """The run's results joined to the previous run's result of the same customer."""
    return (
        CustomerResult.objects.filter(run=run)
        .annotate(
            before=FilteredRelation(
                "customer__results", condition=Q(customer__results__run=previous)
            )
        )
        .filter(before__id__isnull=False)
        .annotate(
            previous_level=F("before__decline_level"),
            previous_risk=F("before__revenue_at_risk"),
            risk_change=F("revenue_at_risk") - F("before__revenue_at_risk"),
        )
    )


def _movers(rows: PairedResults) -> list[Mover]:
    values = rows.values_list(
        "customer__external_id",
        "decline_level",
        "previous_level",
        "revenue_at_risk",
        "previous_risk",
        "risk_change",
    )[:MOVERS_SHOWN]
    return [Mover(*row) for row in values]


MY_TOP = 5


@dataclass(frozen=True)
class MyCustomers:
    """The signed-in user's own customers (as account owner) in the current run."""

    owned: int  # customers the user owns in the team, in the run or not
    analysed: int
    high_risk: int
    revenue_at_risk: Decimal
    top: list[dict]  # external_id, decline_level, revenue_at_risk; most money first


def my_customers(*, run: AnalysisRun, user_id: int) -> MyCustomers:
    """Three queries, whatever the portfolio's size: the count, the sums, the top five."""
    mine = Customer.objects.filter(team_id=run.team_id, owner_id=user_id)
    owned = mine.count()
    if not owned:
        return MyCustomers(0, 0, 0, Decimal(0), [])
    results = CustomerResult.objects.filter(run=run, customer_id__in=mine.values("pk"))
    sums = results.aggregate(
        analysed=Count("pk"),
        high=Count("pk", filter=Q(decline_level__gte=HIGH_RISK_LEVEL)),
        risk=Sum("revenue_at_risk"),
    )
    top = results.filter(revenue_at_risk__gt=0).order_by("-revenue_at_risk", "pk")[:MY_TOP]
    return MyCustomers(
        owned=owned,
        analysed=sums["analysed"],
        high_risk=sums["high"],
        revenue_at_risk=sums["risk"] or Decimal(0),
        top=[
            dict(row)
            for row in top.values("customer__external_id", "decline_level", "revenue_at_risk")
        ],
    )

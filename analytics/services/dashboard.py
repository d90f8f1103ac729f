"""The dashboard's figures: read the team's stored results, never recompute them.

Everything the page shows that adds up every customer or every revenue record — the KPIs,
the level × month heatmap, the movers against the previous succeeded run — is computed once
when the run finishes and kept in ``AnalysisRun.summary`` (``summary_for_finished_run``,
``movers_for_finished_run``), so a visit costs the same at 1,000 customers or 1,000,000: two
queries for the team's runs. The heatmap is added up from each chunk's sums, taken while the
chunk's revenue matrix was in memory (``level_month_revenue``), never from a join of every
revenue record to the results (13.8 s at 100,000 customers).

A run finished before the summary existed, or whose previous run has changed since, gets the
same figures from set-based queries per visit (``run_kpis``, ``level_month_heatmap``,
``run_movers``); ``kpis_of`` and ``movers_of`` choose, for the dashboard and the reports'
fact sheets alike. The level counts come from the run's row, written when it finished.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import pandas as pd
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Sum

from accounts.models import Team
from analytics.models import (
    LEVEL_LABELS,
    AnalysisRun,
    CustomerResult,
    RunStatus,
    previous_analysis,
)
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
        kpis=kpis_of(run=run),
        heatmap=_stored_heatmap(run, run.summary or {}) or level_month_heatmap(run=run),
        movers=movers_of(run=run, previous=previous) if previous else None,
        distribution=level_distribution(run=run),
    )


def kpis_of(*, run: AnalysisRun) -> Kpis:
    """The run's KPIs as stored when it finished, or counted now for a run without them."""
    return _stored_kpis(run, run.summary or {}) or run_kpis(run=run)


def movers_of(*, run: AnalysisRun, previous: AnalysisRun) -> Movers:
    """The run's movers against ``previous``: stored when it finished if they were measured
    against that run, else compared now."""
    return _stored_movers(run.summary or {}, previous) or run_movers(run=run, previous=previous)


# --- Computed once, when a run finishes -------------------------------------------------


def level_month_revenue(values: np.ndarray, levels: pd.Series) -> list[list[float]]:
    """One chunk's revenue per level 0..3 (rows) and month of the window (columns), summed
    from its revenue matrix (NaN before a customer's first month, 0 in a month without
    revenue); insufficient-data customers are in no row. The run's heatmap adds the chunks'."""
    level = levels.to_numpy(dtype=np.float64, na_value=np.nan)
    return [np.nansum(values[level == row], axis=0).round(2).tolist() for row in LEVELS]


def summary_for_finished_run(
    *, figures: pd.DataFrame, chunk_revenue: list[list[list[float]]]
) -> dict:
    """The KPIs' sums and the heatmap's revenue per level and month, for AnalysisRun.summary;
    ``figures``: the run's figures (finish reads them to segment), ``chunk_revenue``: each
    chunk's ``level_month_revenue`` (a chunk without it — written before it existed —
    leaves the heatmap to be computed per visit)."""
    changes = figures["relative_change_12m"].dropna()
    summary: dict = {
        "kpis": {
            "revenue_at_risk": f"{float(figures['revenue_at_risk'].fillna(0).sum()):.2f}",
            "median_change_12m": float(changes.median()) if len(changes) else None,
        }
    }
    if chunk_revenue and all(len(rows) == len(LEVELS) for rows in chunk_revenue):
        summary["level_month_revenue"] = (
            np.sum(np.asarray(chunk_revenue, dtype=np.float64), axis=0).round(2).tolist()
        )
    return summary


def movers_for_finished_run(*, run: AnalysisRun) -> dict | None:
    """The movers against the team's succeeded analysis before ``run``, for its summary
    (None without one). Run after the results' statistics are fresh: it joins two runs."""
    previous = previous_analysis(run)
    if previous is None:
        return None
    movers = run_movers(run=run, previous=previous)
    return {
        "previous_run_id": previous.pk,
        "compared": movers.compared,
        "new_customers": movers.new_customers,
        "lists": {
            entry.key: {
                "total": entry.total,
                "movers": [
                    [
                        m.external_id,
                        m.decline_level,
                        m.previous_level,
                        str(m.revenue_at_risk),
                        str(m.previous_revenue_at_risk),
                        str(m.risk_change),
                        m.is_new,
                    ]
                    for m in entry.movers
                ],
            }
            for entry in movers.lists
        },
    }


def _stored_kpis(run: AnalysisRun, stored: dict) -> Kpis | None:
    kpis = stored.get("kpis")
    if not kpis:
        return None
    return _kpis(run, Decimal(kpis["revenue_at_risk"]), kpis["median_change_12m"])


def _stored_heatmap(run: AnalysisRun, stored: dict) -> Heatmap | None:
    revenue = stored.get("level_month_revenue")
    if not revenue or len(revenue[0]) != len(run.months):
        return None
    return _heatmap(run, lambda level, column, month: revenue[level][column])


def _stored_movers(stored: dict, previous: AnalysisRun) -> Movers | None:
    """The stored movers, if they were measured against the run the page compares with."""
    movers = stored.get("movers")
    if not movers or movers["previous_run_id"] != previous.pk:
        return None
    lists = []
    for key, title, description, _, _ in MOVER_KINDS:
        entry = movers["lists"][key]
        rows = [
            Mover(ext, level, before, Decimal(risk), Decimal(prior), Decimal(change), is_new)
            for ext, level, before, risk, prior, change, is_new in entry["movers"]
        ]
        lists.append(MoverList(key, title, description, entry["total"], rows))
    return Movers(
        previous_run=previous,
        lists=lists,
        compared=movers["compared"],
        new_customers=movers["new_customers"],
    )


# --- Computed per visit (runs without a summary), and by reports -----------------------


def level_distribution(*, run: AnalysisRun) -> list[tuple[int | None, str, int]]:
    """(level or None, label, customers) for levels 0..3 and insufficient data."""
    counts = run.customers_per_level
    rows = [(level, f"{level} · {LEVEL_LABELS[level]}", counts[level]) for level in LEVELS]
    return [*rows, (None, "Insufficient data", run.insufficient_count)]


def run_kpis(*, run: AnalysisRun) -> Kpis:
    results = CustomerResult.objects.filter(run=run)
    totals = results.aggregate(risk=Sum("revenue_at_risk"), changes=Count("relative_change_12m"))
    return _kpis(
        run,
        totals["risk"] or Decimal(0),
        column_median(results, "relative_change_12m", totals["changes"]),
    )


def _kpis(run: AnalysisRun, revenue_at_risk: Decimal, median_change: float | None) -> Kpis:
    high_risk = run.level_2_count + run.level_3_count
    return Kpis(
        customers=run.customers_count,
        high_risk=high_risk,
        high_risk_share=high_risk / run.customers_count if run.customers_count else None,
        revenue_at_risk=revenue_at_risk,
        median_change_12m=median_change,
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
    return _heatmap(run, lambda level, column, month: by_cell.get((level, month)))


def _heatmap(run: AnalysisRun, revenue) -> Heatmap:
    """``revenue(level, column, month)``: the level's customers' revenue in that month."""
    months = run.months
    customers = list(run.customers_per_level)
    averages = [
        [
            round(float(revenue(level, column, month) or 0) / customers[level], 2)
            if customers[level]
            else None
            for column, month in enumerate(months)
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
    """The run's level-3 customers the previous run did not have. An anti-join (NOT
    EXISTS): ``NOT IN (subquery)`` made PostgreSQL scan the previous run's results once
    per row as soon as their ids outgrew work_mem (a million customers: over 12 minutes)."""
    before = CustomerResult.objects.filter(run=previous, customer_id=OuterRef("customer_id"))
    return CustomerResult.objects.filter(run=run, decline_level=3).exclude(Exists(before))


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

"""Fact sheets: what a report may say.

A fact sheet is a plain dict of numbers and short strings read from one run's stored
results (never recomputed statistics) with a few set-based queries, whatever the size of
the portfolio. It is saved on the report, sent to the model (``reports.prompts``) and checked
against the answer (``reports.grounding``). Uploaded text (customer ids and names) enters it
only through ``quoted``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from django.db.models import Avg, Count, Min, Q, QuerySet, Sum

from analytics.core.explain import with_currency
from analytics.models import (
    LEVEL_LABELS,
    AnalysisRun,
    Anomaly,
    CustomerResult,
    RunStatus,
    previous_analysis,
)
from analytics.services.dashboard import column_median, kpis_of, level_distribution, movers_of
from analytics.services.segments import segment_overview

from .models import ReportKind


class ReportError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


MAX_QUOTED_CHARS = 64
TOP_CUSTOMERS = 5
RECENT_ANOMALIES = 5
# The horizon of ``relative_change_12m`` and ``revenue_at_risk`` (docs/method.md).
HORIZON_MONTHS = 12


def fact_sheet(*, run: AnalysisRun, kind: str, scope: dict) -> dict:
    """The facts for one report; ReportError when the scope is not in the run."""
    builders: dict[str, Callable[[AnalysisRun, dict], dict]] = {
        ReportKind.CUSTOMER: _customer_facts,
        ReportKind.SEGMENT: _segment_facts,
        ReportKind.GROUP: _group_facts,
        ReportKind.PORTFOLIO: _portfolio_facts,
    }
    if kind not in builders:
        raise ReportError(f"Unknown report kind {kind!r}.")
    return {"kind": str(kind), "run": _run_facts(run), **builders[kind](run, scope)}


def _run_facts(run: AnalysisRun) -> dict:
    return {
        "id": run.pk,
        "window_start": _month(run.window_start),
        "window_end": _month(run.window_end),
        "months": len(run.months),
        "customers": run.customers_count,
        "currency": run.team.currency or None,
        "significance_level": run.params.get("alpha"),
        "horizon_months": HORIZON_MONTHS,
    }


def _customer_facts(run: AnalysisRun, scope: dict) -> dict:
    external_id = str(scope.get("customer", ""))
    result = (
        CustomerResult.objects.filter(run=run, customer__external_id=external_id)
        .select_related("customer")
        .first()
    )
    if result is None:
        raise ReportError(f"Customer {quoted(external_id)!r} has no result in run #{run.pk}.")
    customer = result.customer
    identity = {"id": quoted(customer.external_id)}
    if customer.name:
        identity["name"] = quoted(customer.name)
    return {
        "customer": identity,
        "level": _level(result.decline_level),
        "segment": _segment_ref(run, result.segment),
        "trend": {
            "slope_per_month": _money(result.slope),
            "slope_per_month_low": _money(result.slope_low),
            "slope_per_month_high": _money(result.slope_high),
            "relative_change_12m_pct": _pct(result.relative_change_12m),
            "p_value": _sig(result.p_value),
            "onset_month": _month(result.onset_month),
        },
        "revenue": {
            "mean_monthly": _money(result.revenue_mean),
            "std_monthly": _money(result.revenue_std),
            "coefficient_of_variation": _round(result.cv, 2),
            "seasonal_strength": _round(result.seasonal_strength, 2),
            "active_months": result.active_months,
            "months_observed": result.n_months,
            "churned": result.churned,
        },
        "revenue_at_risk_12m": _money(result.revenue_at_risk),
        "anomalies": _customer_anomalies(run, result),
        "previous_level": _previous_level(run, result.customer_id),
        "explanation": with_currency(result.explanation, run.team.currency)[:400],
    }


def _customer_anomalies(run: AnalysisRun, result: CustomerResult) -> dict:
    rows = Anomaly.objects.filter(run=run, customer_id=result.customer_id).order_by("-month")
    recent = [
        {
            "month": _month(a.month),
            "revenue": _money(a.revenue),
            "expected": _money(a.expected),
            "zscore": _round(a.zscore, 1),
        }
        for a in rows[:RECENT_ANOMALIES]
    ]
    return {"count": result.anomaly_count, "most_recent": recent}


def _previous_level(run: AnalysisRun, customer_id: int) -> dict | None:
    row = (
        CustomerResult.objects.filter(
            customer_id=customer_id,
            run__team_id=run.team_id,
            run__status=RunStatus.SUCCEEDED,
            run__created_at__lt=run.created_at,
        )
        .order_by("-run__created_at", "-run_id")
        .values_list("run_id", "decline_level")
        .first()
    )
    if row is None:
        return None
    return {"run_id": row[0], **_level(row[1])}


def _segment_ref(run: AnalysisRun, number: int | None) -> dict | None:
    if number is None:
        return None
    name = run.segments.filter(number=number).values_list("name", flat=True).first()
    return {"number": number, "name": quoted(name or "")}


def _segment_facts(run: AnalysisRun, scope: dict) -> dict:
    row, overview = _segment_row(run, scope)
    results = CustomerResult.objects.filter(run=run, segment=row.number)
    return {
        "segment": {
            "number": row.number,
            "name": quoted(row.name),
            "customers": row.size,
            "share_of_customers_pct": _round(row.share_percent, 1),
        },
        "profile": {
            "median_monthly_revenue": _money(row.median_revenue),
            "median_relative_change_12m_pct": _pct(row.relative_change_12m),
            "median_coefficient_of_variation": _round(row.cv, 2),
            "median_active_months_pct": _round(row.activity_percent, 1),
            "median_seasonal_strength": _round(row.seasonal_strength, 2),
            "declining_share_pct": _round(row.share_declining_percent, 1),
        },
        "level_mix": _mix(row.mix.counts, row.mix.insufficient),
        "statistics": group_statistics(results),
        "top_at_risk": _top_at_risk(results),
        "segments_in_run": len(overview.rows),
    }


def _segment_row(run: AnalysisRun, scope: dict):
    number = _int(scope.get("segment"), "segment")
    overview = segment_overview(run=run)
    row = next((r for r in overview.rows if r.number == number), None)
    if row is None:
        numbers = ", ".join(str(r.number) for r in overview.rows) or "none"
        raise ReportError(f"Run #{run.pk} has no segment {number} (its segments: {numbers}).")
    return row, overview


def _group_facts(run: AnalysisRun, scope: dict) -> dict:
    level = _int(scope.get("level"), "level")
    if level not in LEVEL_LABELS:
        raise ReportError(f"The decline level must be 0, 1, 2 or 3, not {level}.")
    row, _ = _segment_row(run, scope)
    results = CustomerResult.objects.filter(run=run, segment=row.number, decline_level=level)
    statistics = group_statistics(results)
    if not statistics["customers"]:
        raise ReportError(
            f"Segment {row.number} has no customer at level {level} in run #{run.pk}."
        )
    return {
        "group": {
            "segment": row.number,
            "segment_name": quoted(row.name),
            **_level(level),
            "customers": statistics["customers"],
            "share_of_segment_pct": _round(100 * statistics["customers"] / row.size, 1)
            if row.size
            else None,
            "segment_customers": row.size,
        },
        "segment_profile": {
            "median_monthly_revenue": _money(row.median_revenue),
            "median_relative_change_12m_pct": _pct(row.relative_change_12m),
        },
        "statistics": statistics,
        "top_at_risk": _top_at_risk(results),
    }


def _portfolio_facts(run: AnalysisRun, scope: dict) -> dict:
    kpis = kpis_of(run=run)
    results = CustomerResult.objects.filter(run=run)
    return {
        "portfolio": {
            "customers": kpis.customers,
            "high_risk_customers": kpis.high_risk,
            "high_risk_share_pct": _round(kpis.high_risk_percent, 1),
            "insufficient_data": kpis.insufficient,
            "revenue_at_risk_12m_total": _money(kpis.revenue_at_risk),
            "median_relative_change_12m_pct": _pct(kpis.median_change_12m),
            "anomalies": run.anomalies_count,
            "segments": run.segments_count,
        },
        "level_mix": [
            {"level": level, "label": label.split(" · ")[-1], "customers": count}
            for level, label, count in level_distribution(run=run)
        ],
        "segments": _segment_risks(run),
        "top_at_risk": _top_at_risk(results),
        "movers": _movers(run),
    }


def _segment_risks(run: AnalysisRun) -> list[dict]:
    names = dict(run.segments.values_list("number", "name"))
    grouped = (
        CustomerResult.objects.filter(run=run, segment__isnull=False)
        .values("segment")
        .annotate(
            customers=Count("pk"),
            risk=Sum("revenue_at_risk"),
            high_risk=Count("pk", filter=Q(decline_level__gte=2)),
        )
        .order_by("segment")
    )
    return [
        {
            "number": row["segment"],
            "name": quoted(names.get(row["segment"], "")),
            "customers": row["customers"],
            "high_risk_customers": row["high_risk"],
            "revenue_at_risk_12m": _money(row["risk"]),
        }
        for row in grouped
    ]


def _movers(run: AnalysisRun) -> dict | None:
    previous = previous_analysis(run)
    if previous is None:
        return None
    movers = movers_of(run=run, previous=previous)
    return {
        "previous_run_id": previous.pk,
        "customers_compared": movers.compared,
        "lists": [
            {
                "kind": mover_list.title,
                "customers": mover_list.total,
                "examples": [
                    {
                        "customer": quoted(m.external_id),
                        "level": m.decline_level,
                        "previous_level": m.previous_level,
                        "revenue_at_risk_change": _money(m.risk_change),
                    }
                    for m in mover_list.movers[:3]
                ],
            }
            for mover_list in movers.lists
        ],
    }


def group_statistics(results: QuerySet[CustomerResult]) -> dict:
    """Sizes, means, medians, churn, anomalies and onset of a set of results, in four
    queries (an aggregate, two medians, the commonest onset month)."""
    totals = results.aggregate(
        customers=Count("pk"),
        risk=Sum("revenue_at_risk"),
        mean_revenue=Avg("revenue_mean"),
        mean_change=Avg("relative_change_12m"),
        changes=Count("relative_change_12m"),
        revenues=Count("revenue_mean"),
        churned=Count("pk", filter=Q(churned=True)),
        with_anomalies=Count("pk", filter=Q(anomaly_count__gt=0)),
        anomalies=Sum("anomaly_count"),
        with_onset=Count("onset_month"),
        first_onset=Min("onset_month"),
    )
    return {
        "customers": totals["customers"],
        "revenue_at_risk_12m_total": _money(totals["risk"] or 0),
        "mean_monthly_revenue": _money(totals["mean_revenue"]),
        "median_monthly_revenue": _money(
            column_median(results, "revenue_mean", totals["revenues"])
        ),
        "relative_change_12m_pct_mean": _pct(totals["mean_change"]),
        "relative_change_12m_pct_median": _pct(
            column_median(results, "relative_change_12m", totals["changes"])
        ),
        "churned": totals["churned"],
        "customers_with_anomalies": totals["with_anomalies"],
        "anomalies": totals["anomalies"] or 0,
        "onset": _onset(results, totals["with_onset"], totals["first_onset"]),
    }


def _onset(results: QuerySet, with_onset: int, first: date | None) -> dict:
    if not with_onset:
        return {"customers_with_onset": 0}
    commonest = (
        results.filter(onset_month__isnull=False)
        .values("onset_month")
        .annotate(customers=Count("pk"))
        .order_by("-customers", "-onset_month")
        .first()
    )
    return {
        "customers_with_onset": with_onset,
        "earliest_onset_month": _month(first),
        "commonest_onset_month": _month(commonest["onset_month"]),
        "customers_with_commonest_onset": commonest["customers"],
    }


def _top_at_risk(results: QuerySet[CustomerResult]) -> list[dict]:
    rows = (
        results.filter(revenue_at_risk__gt=0)
        .order_by("-revenue_at_risk", "pk")
        .values_list(
            "customer__external_id", "decline_level", "revenue_at_risk", "relative_change_12m"
        )[:TOP_CUSTOMERS]
    )
    return [
        {
            "customer": quoted(external_id),
            "level": level,
            "revenue_at_risk_12m": _money(risk),
            "relative_change_12m_pct": _pct(change),
        }
        for external_id, level, risk, change in rows
    ]


def _mix(counts: tuple[int, ...], insufficient: int) -> list[dict]:
    total = sum(counts) + insufficient
    rows = [
        {
            "level": level,
            "label": LEVEL_LABELS[level],
            "customers": count,
            "share_pct": _round(100 * count / total, 1) if total else None,
        }
        for level, count in enumerate(counts)
    ]
    if insufficient:
        rows.append({"level": None, "label": "Insufficient data", "customers": insufficient})
    return rows


def _level(level: int | None) -> dict:
    if level is None:
        return {"level": None, "level_label": "Insufficient data"}
    return {"level": level, "level_label": LEVEL_LABELS[level]}


# --- Values -----------------------------------------------------------------------------


def quoted(text: str | None, limit: int = MAX_QUOTED_CHARS) -> str:
    """Uploaded text made safe to quote: one line, no control characters, cut to ``limit``."""
    cleaned = " ".join("".join(c for c in str(text or "") if c.isprintable()).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ReportError(f"The {name} must be a whole number, not {value!r}.") from None


def _round(value, places: int) -> float | None:
    return None if value is None else round(float(value), places)


def _money(value: float | Decimal | None) -> float | None:
    return _round(value, 2)


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else round(100 * float(fraction), 1)


def _sig(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.3g}")


def _month(value: date | None) -> str | None:
    return None if value is None else f"{value:%Y-%m}"

"""Runs with chosen results, and a way to judge them as the end of a real run does."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from analytics.models import AnalysisRun, Anomaly, CustomerResult, RunStatus
from customers.models import Customer
from workflow.tasks import alerts_evaluate_task


def make_run(
    team, states: dict[str, dict], anomalies: dict[str, list] | None = None
) -> AnalysisRun:
    """A succeeded analysis whose customers have these figures: level, churned,
    revenue_at_risk, p_active (missing ones: level 0, not churned, 0 at risk, 0.9);
    ``anomalies``: external id → [(month, zscore)]."""
    run = AnalysisRun.objects.create(
        team=team, window_start=date(2024, 1, 1), window_end=date(2025, 6, 1),
        status=RunStatus.RUNNING,
    )  # fmt: skip
    for external_id, state in states.items():
        customer, _ = Customer.objects.get_or_create(team=team, external_id=external_id)
        CustomerResult.objects.create(
            run=run, customer=customer, n_months=18,
            decline_level=state.get("level", 0), churned=state.get("churned", False),
            revenue_at_risk=Decimal(state.get("risk", 0)), p_active=state.get("p_active", 0.9),
        )  # fmt: skip
        for month, z in (anomalies or {}).get(external_id, []):
            Anomaly.objects.create(
                run=run, customer=customer, month=month, revenue=Decimal(1000),
                expected=Decimal(100), zscore=z,
            )  # fmt: skip
    levels = [state.get("level", 0) for state in states.values()]
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        customers_count=len(levels),
        **{f"level_{level}_count": levels.count(level) for level in range(4)},
        insufficient_count=levels.count(None),
    )
    run.refresh_from_db()
    return run


def judged(team, states: dict[str, dict], anomalies=None) -> AnalysisRun:
    """A run made and judged, as the signal at the end of a real run has it judged."""
    run = make_run(team, states, anomalies)
    alerts_evaluate_task.apply(args=[run.pk]).get()
    return run

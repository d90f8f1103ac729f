"""One cutoff of a backtest: the run's results beside what each customer did next.

Reads the team's revenue up to the cutoff (the run's own window), the revenue of the horizon
after it, and the run's results; the scoring itself is ``analytics.core.backtest``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.db.models import Count, Q, Sum

from analytics.core.anomalies import HALF_CENT
from analytics.core.backtest import (
    Method,
    evaluate_cutoff,
    outcome,
    purchase_model_method,
    recency_method,
    revtrend_method,
    seed_rule_method,
)
from analytics.core.purchase import PurchaseModel
from analytics.models import AnalysisRun, CustomerResult
from analytics.services import revenue_matrix_read
from analytics.services.runs import run_params
from analytics.services.window import add_months
from customers.models import RevenueRecord

# The names the page and the command show, RevTrend first (its levels fill the level table).
REVTREND = "RevTrend"
RECENCY = "Months since last purchase"
PURCHASE_MODEL = "Purchase model (BG/BB)"
PROTOTYPE = "Prototype rule"


def cutoff_evaluate(*, run: AnalysisRun, horizon: int) -> dict:
    matrix = revenue_matrix_read(
        team_id=run.team_id, window_start=run.window_start, window_end=run.window_end
    )
    ids = matrix.customer_ids
    next_total, next_active = _what_followed(run, horizon, ids)
    previous_mean = outcome(matrix.values, next_total, horizon).previous_mean
    purchase_model = run_params(run).purchase_model
    assert purchase_model is not None  # the run's planning fitted it into its params
    methods = {
        REVTREND: _revtrend(run, ids, previous_mean, horizon),
        RECENCY: recency_method(matrix.values, previous_mean),
        PURCHASE_MODEL: purchase_model_method(
            matrix.values, previous_mean, horizon, PurchaseModel(*purchase_model)
        ),
        PROTOTYPE: seed_rule_method(matrix.values),
    }
    result = evaluate_cutoff(matrix.values, next_total, next_active, methods, horizon)
    return {"cutoff": f"{run.window_end:%Y-%m}", "run_id": run.pk, "horizon": horizon, **result}


def _what_followed(run: AnalysisRun, horizon: int, ids: np.ndarray):
    """Revenue and months with a purchase per customer in the horizon after the cutoff (of
    the customers the run judged: the reindex drops those who came later)."""
    after = RevenueRecord.objects.filter(
        team_id=run.team_id,
        month__gt=run.window_end,
        month__lte=add_months(run.window_end, horizon),
    )
    rows = after.values("customer_id").annotate(
        total=Sum("amount"), active=Count("id", filter=Q(amount__gte=HALF_CENT))
    )
    frame = pd.DataFrame.from_records(
        list(rows.values_list("customer_id", "total", "active")),
        columns=["customer_id", "total", "active"],
    ).set_index("customer_id")
    frame = frame.reindex(ids)
    total = pd.to_numeric(frame["total"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return total, frame["active"].fillna(0).to_numpy(dtype=np.int64)


def _revtrend(run: AnalysisRun, ids: np.ndarray, previous_mean, horizon: int) -> Method:
    rows = CustomerResult.objects.filter(run=run).values_list(
        "customer_id", "decline_level", "revenue_at_risk", "expected_revenue_12m"
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["customer_id", "level", "risk", "expected"]
    ).set_index("customer_id")
    frame = frame.reindex(ids)
    level, risk, expected = (
        pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in frame.columns
    )
    return revtrend_method(level, risk, expected, previous_mean, horizon)

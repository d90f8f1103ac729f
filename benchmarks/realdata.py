"""Real data decides: backtests of RevTrend and the simple alternatives on real transaction logs.

For each log and cutoff, every method sees only the transactions up to the cutoff month;
each customer with at least 6 months since its first purchase is then compared with the
following ``--horizon`` months (``analytics.core.backtest``: real loss = the next months'
mean below 75 % of the previous 12 months' mean). Side by side:

- **RevTrend**: the core as a run computes it (levels, expected change, revenue at risk);
- **recency**: months since the last purchase (more = more likely lost);
- **BG/NBD**: lifetimes' BetaGeoFitter on the daily log before the cutoff (expected
  purchases in the horizon; fewer = more likely lost), what a data scientist would fit;
- **prototype**: the seed's absolute-slope rule (docs/method.md §14);
- **trained on the outcome**: a gradient-boosted classifier fitted to the outcome itself
  (5-fold cross-validated) on the last 12 months and the daily recency — a supervised
  reference for how much the data holds beyond recency and frequency (not a proof of a
  ceiling: on CDNOW it ranks no better than recency).

CDNOW is the tuning log; Complete Journey is held out of all tuning and reported apart.

    .venv/bin/python benchmarks/realdata.py [--logs cdnow,complete_journey] [--horizon 6]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analytics.core import Params, analyze_portfolio, span_lengths
from analytics.core.backtest import (
    MIN_HISTORY,
    Method,
    auc,
    evaluate_cutoff,
    outcome,
    recency_method,
    revtrend_method,
    seed_rule_method,
)
from benchmarks._django import print_table
from benchmarks.portfolio import monthly_matrix
from benchmarks.reallogs import LOADERS, check_published

CUTOFFS = {"cdnow": ("1997-06", "1997-12"), "complete_journey": ("2017-06",)}
HELD_OUT = {"complete_journey"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", default="cdnow,complete_journey")
    parser.add_argument("--horizon", type=int, default=6)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name in args.logs.split(","):
        log = LOADERS[name]()
        tag = "HELD OUT of all tuning" if name in HELD_OUT else "tuning log"
        print(f"\n## {name} ({tag}): {check_published(name, log)}")
        for cutoff in CUTOFFS[name]:
            backtest(log, cutoff, args.horizon)


def backtest(log: pd.DataFrame, cutoff: str, horizon: int) -> None:
    """One cutoff, scored exactly as the product's backtest scores it
    (``analytics.core.backtest.evaluate_cutoff``), plus the daily BG/NBD anchor and the
    classifier trained on the outcome, which only a benchmark with the raw log can add."""
    cut = pd.Timestamp(cutoff)
    after = cut + pd.offsets.MonthBegin(1)
    past = log[log["date"] < after]
    matrix, months, ids = monthly_matrix(past, cut)
    future = log[(log["date"] >= after) & (log["date"] < after + pd.offsets.MonthBegin(horizon))]
    following = future.groupby("customer_id")["amount"]
    next_total = following.sum().reindex(ids).fillna(0.0).to_numpy()
    next_active = (
        future[future["amount"] >= 0.005]
        .assign(month=future["date"].dt.to_period("M"))
        .groupby("customer_id")["month"]
        .nunique()
        .reindex(ids)
        .fillna(0)
        .to_numpy()
    )
    previous_mean = outcome(matrix, next_total, horizon).previous_mean
    methods = {
        "RevTrend": revtrend(matrix, months, previous_mean, horizon),
        "recency": recency_method(matrix, previous_mean),
        "BG/NBD (daily)": bgnbd(past, ids, cut, previous_mean, horizon),
        "prototype rule": seed_rule_method(matrix),
    }
    result = evaluate_cutoff(matrix, next_total, next_active, methods, horizon)
    print(
        f"\n### cutoff {cutoff}, next {horizon} months: {result['population']:,} customers with "
        f"≥ 6 months of history; {result['loss_share']:.1%} had a real loss"
    )
    rows = [summary_row(row) for row in result["methods"]]
    trained = ceiling(matrix, past, ids, cut, outcome(matrix, next_total, horizon))
    rows.append(["trained on the outcome (5-fold)", "—", "—", f"{trained:.3f}"] + ["—"] * 6)
    print_table(HEADERS, rows)
    print(f"\nBest possible top {result['top_n']} realised loss: {result['best_top_loss']:,.0f}")
    print_levels(result)
    print_calibration(result)


HEADERS = [
    "method", "scored", "AUC level", "AUC ranking", "P(loss) level ≥ 1", "lift ≥ 1",
    "recall ≥ 1", "P(loss) level 3", "top 100 lost", "predicted / realised",
]  # fmt: skip


def _cell(value, form: str) -> str:
    return "—" if value is None else format(value, form)


def summary_row(row: dict) -> list:
    declining, sharp = row.get("declining") or {}, row.get("sharp") or {}
    return [
        row["name"],
        _cell(row["scored_share"], ".1%"),
        _cell(row.get("auc_level"), ".3f"),
        _cell(row["auc"], ".3f"),
        _cell(declining.get("precision"), ".3f"),
        _cell(declining.get("lift"), ".2f"),
        _cell(declining.get("recall"), ".3f"),
        _cell(sharp.get("precision"), ".3f"),
        f"{row['top_loss']:,.0f}",
        _cell(row.get("loss_ratio"), ".2f"),
    ]


def revtrend(matrix, months, previous_mean, horizon: int) -> Method:
    started = time.perf_counter()
    figures = analyze_portfolio(matrix, months, Params()).figures
    print(f"RevTrend analysed {len(matrix):,} customers in {time.perf_counter() - started:.2f} s")
    return revtrend_method(
        figures["decline_level"].to_numpy(dtype=float, na_value=np.nan),
        figures["revenue_at_risk"].to_numpy(dtype=float),
        figures["expected_revenue_12m"].to_numpy(dtype=float),
        previous_mean,
        horizon,
    )


def bgnbd(past, ids, cut, previous_mean, horizon: int) -> Method:
    """lifetimes' BG/NBD on the daily log: expected purchases in the horizon, and the loss
    they imply at the customer's mean transaction value."""
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    end = cut + pd.offsets.MonthEnd(0)
    summary = summary_data_from_transaction_data(
        past, "customer_id", "date", observation_period_end=end, freq="D"
    ).reindex(ids)
    for penalizer in (0.0, 0.001, 0.01, 0.1):
        try:
            fitter = BetaGeoFitter(penalizer_coef=penalizer).fit(
                summary["frequency"], summary["recency"], summary["T"]
            )
            break
        except Exception:  # lifetimes' ConvergenceError: try a stronger penalizer
            continue
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        horizon * 30.4, summary["frequency"], summary["recency"], summary["T"]
    ).to_numpy()
    per_purchase = past.groupby("customer_id")["amount"].mean().reindex(ids).to_numpy()
    predicted = np.maximum(0.0, horizon * previous_mean - expected * per_purchase)
    return Method(ranking=-expected, money=predicted, predicted_loss=predicted)


def ceiling(matrix, past, ids, cut, truth) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_predict

    population = (span_lengths(matrix) >= MIN_HISTORY) & (truth.previous_mean > 0)
    end = cut + pd.offsets.MonthEnd(0)
    last_day = (end - past.groupby("customer_id")["date"].max()).dt.days.reindex(ids)
    features = np.column_stack([np.nan_to_num(matrix[:, -12:]), last_day.to_numpy(dtype=float)])
    lost = truth.real_loss[population]
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, random_state=0)
    scores = cross_val_predict(model, features[population], lost, cv=5, method="predict_proba")
    return auc(lost, scores[:, 1])


def print_levels(result: dict) -> None:
    print("\nRevTrend's levels: what their customers did next")
    table = [
        [row["level"], f"{row['customers']:,}", _cell(row["loss_share"], ".1%"),
         _cell(row["no_purchase_share"], ".1%"), _cell(row["median_ratio"], ".2f")]
        for row in result["levels"]
    ]  # fmt: skip
    print_table(["level", "customers", "real loss", "bought nothing", "median next/prev"], table)


def print_calibration(result: dict) -> None:
    for key, label in (
        ("revenue_at_risk", "revenue at risk vs realised loss (customers with money at risk)"),
        ("expected_revenue", "expected vs realised revenue"),
    ):
        part = result["calibration"].get(key)
        if not part:
            continue
        ratio = part["predicted"] / part["realised"] if part["realised"] else float("nan")
        print(f"\nRevTrend {label}: {part['predicted']:,.0f} vs {part['realised']:,.0f} "
              f"(ratio {ratio:.2f}), by decile of the prediction:")  # fmt: skip
        table = [[i + 1, f"{p:,.1f}", f"{r:,.1f}"] for i, (p, r) in enumerate(part["deciles"])]
        print_table(["decile", "predicted", "realised"], table)


if __name__ == "__main__":
    main()

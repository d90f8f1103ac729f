"""Real data decides: backtests of RevTrend and the simple alternatives on real transaction logs.

For each log and cutoff, every method sees only the transactions up to the cutoff month;
each customer with at least 6 months since its first purchase is then compared with the
following ``--horizon`` months (``analytics.core.backtest``: real loss = the next months'
mean below 75 % of the previous 12 months' mean). Side by side:

- **RevTrend**: the core as a run computes it (levels, expected change, revenue at risk);
- **recency**: months since the last purchase (more = more likely lost);
- **BG/NBD**: lifetimes' BetaGeoFitter on the daily log before the cutoff (expected
  purchases in the horizon; fewer = more likely lost), what a data scientist would fit;
- **prototype**: the seed's absolute-slope rule (METHOD.md, "Baseline to beat");
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
from analytics.core import Params, analyze_portfolio
from analytics.core.backtest import (
    auc,
    calibration_by_decile,
    flag_quality,
    outcome,
    top_loss,
)
from analytics.core.baseline import seed_rule_levels
from benchmarks._django import print_table
from benchmarks.portfolio import monthly_matrix
from benchmarks.reallogs import LOADERS, check_published

CUTOFFS = {"cdnow": ("1997-06", "1997-12"), "complete_journey": ("2017-06",)}
HELD_OUT = {"complete_journey"}
MIN_HISTORY = 6


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
    cut = pd.Timestamp(cutoff)
    after = cut + pd.offsets.MonthBegin(1)
    past = log[log["date"] < after]
    matrix, months, ids = monthly_matrix(past, cut)
    future = log[(log["date"] >= after) & (log["date"] < after + pd.offsets.MonthBegin(horizon))]
    next_total = future.groupby("customer_id")["amount"].sum().reindex(ids).fillna(0.0)
    truth = outcome(matrix, next_total.to_numpy(), horizon)
    span = (~np.isnan(matrix)).sum(axis=1)
    population = (span >= MIN_HISTORY) & (truth.previous_mean > 0)
    lost = truth.real_loss[population]
    print(
        f"\n### cutoff {cutoff}, next {horizon} months: {population.sum():,} customers with "
        f"≥ {MIN_HISTORY} months of history; {lost.mean():.1%} had a real loss"
    )
    methods = {
        "RevTrend": revtrend(matrix, months, horizon),
        "recency": recency(matrix, truth),
        "BG/NBD (daily)": bgnbd(past, ids, cut, truth, horizon),
        "prototype rule": prototype(matrix, truth),
    }
    rows, calibrations = [], []
    for label, method in methods.items():
        rows.append(summary_row(label, method, truth, population))
        if "predicted_loss" in method:
            calibrations.append((label, method, truth, population))
    trained = ceiling(matrix, past, ids, cut, truth, population)
    rows.append(["trained on the outcome (5-fold)", "—", "—", f"{trained:.3f}"] + ["—"] * 6)
    realised = truth.realised_loss[population]
    best = np.sort(realised)[::-1][:100].sum()
    print_table(HEADERS, rows)
    print(f"\nBest possible top 100 realised loss: {best:,.0f}")
    for label, method, truth_, pop in calibrations:
        print_calibration(label, method, truth_, pop)


HEADERS = [
    "method", "scored", "AUC level", "AUC ranking", "P(loss) level ≥ 1", "lift ≥ 1",
    "recall ≥ 1", "P(loss) level 3", "top 100 lost", "predicted / realised",
]  # fmt: skip


def summary_row(label: str, method: dict, truth, population) -> list:
    lost = truth.real_loss[population]
    level = method.get("level", np.full(len(population), np.nan))[population]
    ranking = method["ranking"][population]
    row = [label, f"{np.isfinite(ranking).mean():.1%}"]
    row.append("—" if np.isnan(level).all() else f"{auc(lost, level):.3f}")
    row.append(f"{auc(lost, ranking):.3f}")
    if np.isnan(level).all():
        row += ["—", "—", "—", "—"]
    else:
        one = flag_quality(lost, level >= 1)
        three = flag_quality(lost, level >= 3)
        row += [f"{one['precision']:.3f}", f"{one['lift']:.2f}", f"{one['recall']:.3f}"]
        row.append(f"{three['precision']:.3f}")
    realised = truth.realised_loss[population]
    row.append(f"{top_loss(realised, method['money'][population]):,.0f}")
    if "predicted_loss" in method:
        flagged = method.get("flagged", np.ones(len(population), bool))[population]
        predicted = method["predicted_loss"][population][flagged].sum()
        row.append(f"{predicted / max(realised[flagged].sum(), 1e-9):.2f}")
    else:
        row.append("—")
    return row


def revtrend(matrix, months, horizon: int) -> dict:
    started = time.perf_counter()
    result = analyze_portfolio(matrix, months, Params())
    internal = getattr(result, "internal", None)  # absent before the purchase process
    figures = internal if internal is not None else result.figures
    level = figures["decline_level"].to_numpy(dtype=float, na_value=np.nan)
    method = {"level": level, "money": figures["revenue_at_risk"].to_numpy(dtype=float)}
    if "expected_change_12m" in figures:  # this version's forecast, over the horizon
        from analytics.core.analyze import portfolio_purchase_model
        from analytics.core.purchase import PurchaseModel, expected_purchases

        model = PurchaseModel(*portfolio_purchase_model(matrix))
        history = [figures[c].to_numpy(dtype=float) for c in
                   ("repeat_months", "last_repeat_month", "opportunities")]  # fmt: skip
        expected = expected_purchases(model, *history, horizon) * figures[
            "spend_per_active_month"
        ].to_numpy(dtype=float)
        baseline = figures["baseline"].to_numpy(dtype=float)
        method["ranking"] = -figures["expected_change_12m"].to_numpy(dtype=float)
        at_stake = figures["revenue_at_risk"].to_numpy(dtype=float) > 0
        method["predicted_loss"] = np.where(
            at_stake, np.maximum(0.0, horizon * baseline - expected), 0.0
        )
        method["flagged"] = method["predicted_loss"] > 0  # the forecast's claims
        method["expected_next"] = expected
    else:  # before the purchase process: the backward-looking change
        method["ranking"] = np.where(
            np.isnan(level), np.nan, -figures["relative_change_12m"].to_numpy(dtype=float)
        )
    print(f"RevTrend analysed {len(matrix):,} customers in {time.perf_counter() - started:.2f} s")
    return method


def recency(matrix, truth) -> dict:
    active = np.nan_to_num(matrix) >= 0.005
    last = matrix.shape[1] - 1 - np.argmax(active[:, ::-1], axis=1)
    quiet = np.where(active.any(axis=1), matrix.shape[1] - 1 - last, matrix.shape[1]).astype(float)
    return {"ranking": quiet, "money": quiet * truth.previous_mean}


def bgnbd(past, ids, cut, truth, horizon: int) -> dict:
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    end = cut + pd.offsets.MonthEnd(0)
    summary = summary_data_from_transaction_data(
        past, "customer_id", "date", monetary_value_col="amount", observation_period_end=end,
        freq="D",
    ).reindex(ids)  # fmt: skip
    days = horizon * 30.4
    for penalizer in (0.0, 0.001, 0.01, 0.1):
        try:
            fitter = BetaGeoFitter(penalizer_coef=penalizer).fit(
                summary["frequency"], summary["recency"], summary["T"]
            )
            break
        except Exception:  # lifetimes' ConvergenceError: try a stronger penalizer
            continue
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        days, summary["frequency"], summary["recency"], summary["T"]
    ).to_numpy()
    # Spend per purchase: the customer's mean transaction value over its whole history.
    per_purchase = past.groupby("customer_id")["amount"].mean().reindex(ids).to_numpy()
    predicted = np.maximum(0.0, horizon * truth.previous_mean - expected * per_purchase)
    return {"ranking": -expected, "money": predicted, "predicted_loss": predicted}


def prototype(matrix, truth) -> dict:
    level = seed_rule_levels(matrix).astype(float)
    level[level < 0] = np.nan
    mean = np.nanmean(matrix, axis=1)
    return {"level": level, "ranking": level, "money": np.where(level >= 2, mean, -np.inf)}


def ceiling(matrix, past, ids, cut, truth, population) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_predict

    end = cut + pd.offsets.MonthEnd(0)
    last_day = (end - past.groupby("customer_id")["date"].max()).dt.days.reindex(ids)
    features = np.column_stack([np.nan_to_num(matrix[:, -12:]), last_day.to_numpy(dtype=float)])
    lost = truth.real_loss[population]
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, random_state=0)
    scores = cross_val_predict(model, features[population], lost, cv=5, method="predict_proba")
    return auc(lost, scores[:, 1])


def print_calibration(label, method, truth, population) -> None:
    realised = truth.realised_loss[population]
    flagged = method.get("flagged", np.ones(len(population), bool))[population]
    predicted = method["predicted_loss"][population]
    deciles = calibration_by_decile(predicted[flagged], realised[flagged])
    print(f"\n{label}: predicted vs realised loss by decile of prediction (money at risk > 0)")
    table = [[i + 1, f"{p:,.1f}", f"{r:,.1f}"] for i, (p, r) in enumerate(deciles)]
    print_table(["decile", "predicted", "realised"], table)
    if "expected_next" in method:
        expected = method["expected_next"][population]
        actual = truth.next_total[population]
        print(
            f"{label}: expected revenue over the horizon {expected.sum():,.0f} vs realised "
            f"{actual.sum():,.0f} (ratio {expected.sum() / max(actual.sum(), 1e-9):.2f})"
        )


if __name__ == "__main__":
    main()

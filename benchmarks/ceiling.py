"""How many of the generator's declines can be detected at all? An oracle that is told each
decliner's true onset month compares the months after it with the 12 months before it
(one-sided Mann–Whitney), with its threshold set so that it raises 5 % false alarms on
stable, seasonal, volatile and intermittent customers given a pseudo-onset drawn from the
decliners' onsets. It looks at two series: the deseasonalised months as observed, and the
deseasonalised demand (each order spread over the months it carries, analytics.core.demand).
Its recall is an optimistic ceiling for any rank-based detector at that false-alarm rate;
RevTrend's recall on the same customers is printed beside it.

    .venv/bin/python benchmarks/ceiling.py [--customers 5000] [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analytics.core import Params, analyze_portfolio
from analytics.core.analyze import span_lengths
from analytics.core.demand import spread_orders
from benchmarks._django import print_table
from benchmarks.portfolio import monthly_matrix
from customers.demo import DECLINES, generate_portfolio

NULL_PATTERNS = ("stable", "seasonal", "volatile", "intermittent")
FALSE_ALARMS = 0.05
END_MONTH = "2025-12"


def oracle_rows(customers: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    portfolio = generate_portfolio(customers=customers, seed=seed, end_month=END_MONTH)
    matrix, months, ids = monthly_matrix(portfolio.transactions, end_month=END_MONTH)
    truth = portfolio.truth.set_index("customer_id").loc[ids]
    result = analyze_portfolio(matrix, months, Params())
    series = {
        "months": matrix - result.components["seasonal"],
        "demand": spread_demand(matrix) - result.components["seasonal"],
    }
    declining = truth["pattern"].isin(DECLINES).to_numpy()
    null = truth["pattern"].isin(NULL_PATTERNS).to_numpy()
    onset = np.full(len(ids), -1)
    has_onset = declining & truth["onset_month"].fillna("").ne("").to_numpy()
    onset_months = pd.to_datetime(truth["onset_month"][has_onset] + "-01")
    onset[has_onset] = np.searchsorted(months, onset_months)
    rng = np.random.default_rng(seed)
    onset[null] = rng.choice(onset[has_onset], size=null.sum())
    rows = []
    for row in np.flatnonzero(has_onset | null):
        p_values = []
        for values in series.values():
            before = values[row, max(onset[row] - 12, 0) : onset[row]]
            after = values[row, onset[row] :]
            before, after = before[~np.isnan(before)], after[~np.isnan(after)]
            if len(before) < 3 or len(after) < 2:
                break
            p_values.append(mannwhitneyu(after, before, alternative="less").pvalue)
        else:
            ours = result.figures["decline_level"].iloc[row]
            rows.append((truth["pattern"].iloc[row], declining[row], *p_values, ours >= 1))
    frame = pd.DataFrame(rows, columns=["pattern", "declining", *series, "ours"])
    return frame, truth["true_level"].value_counts()


def spread_demand(matrix: np.ndarray) -> np.ndarray:
    """analytics.core.demand on each customer's span (it takes rows without NaN)."""
    spans = span_lengths(matrix)
    out = np.full(matrix.shape, np.nan)
    width = matrix.shape[1]
    for length in np.unique(spans[spans > 0]):
        rows = np.flatnonzero(spans == length)
        out[rows, width - length :] = spread_orders(matrix[rows, width - length :])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    seeds = [int(s) for s in args.seeds.split(",")]
    parts = [oracle_rows(args.customers, seed) for seed in seeds]
    frame = pd.concat([rows for rows, _ in parts])
    levels = sum(counts for _, counts in parts)
    for name in ("months", "demand"):
        threshold = frame.loc[~frame["declining"], name].quantile(FALSE_ALARMS)
        frame[f"oracle_{name}"] = frame[name] <= threshold
    decliners = frame[frame["declining"]]
    table = [
        [
            pattern,
            f"{len(group):,}",
            f"{group['oracle_months'].mean():.1%}",
            f"{group['oracle_demand'].mean():.1%}",
            f"{group['ours'].mean():.1%}",
        ]
        for pattern, group in decliners.groupby("pattern")
    ]
    print(
        f"\nDetection ceiling: seeds {args.seeds} × {args.customers:,} customers; oracle told the "
        f"true onset, thresholds set for {FALSE_ALARMS:.0%} false alarms"
    )
    headers = ["pattern", "customers", "oracle (months)", "oracle (demand)", "RevTrend recall"]
    print_table(headers, table)
    # What F1 (level >= 1) the better oracle would reach if it also found every churned
    # customer and kept its 5 % false alarms on every true-level-0 customer.
    found = sum(
        len(group) * max(group["oracle_months"].mean(), group["oracle_demand"].mean())
        for _, group in decliners.groupby("pattern")
    )
    positives = int(levels.loc[[1, 2, 3]].sum())
    churned = positives - len(decliners)
    hits = found + churned
    false_alarms = FALSE_ALARMS * int(levels.loc[0])
    precision, recall = hits / (hits + false_alarms), hits / positives
    print(
        f"Oracle F1 (level ≥ 1), every churned customer found, {FALSE_ALARMS:.0%} false alarms "
        f"on true level 0: precision {precision:.2f}, recall {recall:.2f}, "
        f"F1 {2 * precision * recall / (precision + recall):.2f} (goal 0.93)"
    )


if __name__ == "__main__":
    main()

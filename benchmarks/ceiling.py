"""How many of the generator's declines can be detected at all? An oracle that is told each
decliner's true onset month compares the months after it with the 12 months before it
(one-sided Mann–Whitney on the deseasonalised series), with its threshold set so that it
raises 5 % false alarms on stable, seasonal, volatile and intermittent customers given a
pseudo-onset drawn from the decliners' onsets. Its recall is an optimistic ceiling for any
rank-based detector at that false-alarm rate; RevTrend's recall on the same customers is
printed beside it.

    .venv/bin/python benchmarks/ceiling.py [--customers 5000] [--seeds 1,2]
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
from benchmarks._django import print_table
from benchmarks.portfolio import monthly_matrix
from customers.demo import DECLINES, generate_portfolio

NULL_PATTERNS = ("stable", "seasonal", "volatile", "intermittent")
FALSE_ALARMS = 0.05
END_MONTH = "2025-12"


def oracle_rows(customers: int, seed: int) -> pd.DataFrame:
    portfolio = generate_portfolio(customers=customers, seed=seed, end_month=END_MONTH)
    matrix, months, ids = monthly_matrix(portfolio.transactions, end_month=END_MONTH)
    truth = portfolio.truth.set_index("customer_id").loc[ids]
    result = analyze_portfolio(matrix, months, Params())
    deseasonalised = matrix - result.components["seasonal"]
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
        before = deseasonalised[row, max(onset[row] - 12, 0) : onset[row]]
        after = deseasonalised[row, onset[row] :]
        before, after = before[~np.isnan(before)], after[~np.isnan(after)]
        if len(before) < 3 or len(after) < 2:
            continue
        p_value = mannwhitneyu(after, before, alternative="less").pvalue
        ours = result.figures["decline_level"].iloc[row]
        rows.append((truth["pattern"].iloc[row], declining[row], p_value, ours >= 1))
    return pd.DataFrame(rows, columns=["pattern", "declining", "p_value", "ours"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    seeds = [int(s) for s in args.seeds.split(",")]
    frame = pd.concat([oracle_rows(args.customers, seed) for seed in seeds])
    threshold = frame.loc[~frame["declining"], "p_value"].quantile(FALSE_ALARMS)
    frame["oracle"] = frame["p_value"] <= threshold
    decliners = frame[frame["declining"]]
    table = [
        [pattern, f"{len(group):,}", f"{group['oracle'].mean():.1%}", f"{group['ours'].mean():.1%}"]
        for pattern, group in decliners.groupby("pattern")
    ]
    print(
        f"\nDetection ceiling: seeds {args.seeds} × {args.customers:,} customers; oracle told the "
        f"true onset, threshold p ≤ {threshold:.3f} for {FALSE_ALARMS:.0%} false alarms"
    )
    print_table(["pattern", "customers", "oracle recall", "RevTrend recall"], table)


if __name__ == "__main__":
    main()

"""Throughput of the statistical core: 100,000 customers × 36 months, batched, against a
straightforward per-customer loop (statsmodels STL + scipy theilslopes + a Mann–Kendall
test per customer) timed on a sample and scaled, in the same run.

    .venv/bin/python benchmarks/throughput.py [--customers 100000] [--loop-sample 2000]

Goal (issue 3): ≤ 5 s for the core on this 2-core machine, ≥ 50× the loop.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, theilslopes
from statsmodels.tsa.seasonal import STL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analytics.core import Params, analyze_portfolio, segment_portfolio
from benchmarks._django import print_table
from benchmarks.portfolio import monthly_matrix
from customers.demo import generate_portfolio


def per_customer_loop(matrix: np.ndarray) -> float:
    """What a first version would do: one statsmodels and scipy call per customer."""
    started = time.perf_counter()
    for row in matrix:
        series = row[~np.isnan(row)]
        if len(series) < 6:
            continue
        if len(series) >= 24:
            fit = STL(series, period=12, robust=False).fit()
            series = series - fit.seasonal
        window = series[-24:]
        theilslopes(window)
        kendalltau(np.arange(len(window)), window)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--loop-sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    portfolio = generate_portfolio(customers=args.customers, seed=args.seed)
    matrix, months, _ = monthly_matrix(portfolio.transactions, end_month="2025-12")
    params = Params()

    started = time.perf_counter()
    result = analyze_portfolio(matrix, months, params)
    core_seconds = time.perf_counter() - started
    started = time.perf_counter()
    segment_portfolio(result.figures, params)
    segment_seconds = time.perf_counter() - started

    rng = np.random.default_rng(0)
    sample = matrix[rng.choice(len(matrix), args.loop_sample, replace=False)]
    loop_seconds = per_customer_loop(sample) * len(matrix) / len(sample)

    rows = len(matrix)
    print(f"\nCore throughput: {rows:,} customers × {len(months)} months")
    print_table(
        ["method", "seconds", "customers/s", "speed-up"],
        [
            [
                "batched core (analyze_portfolio)",
                f"{core_seconds:.2f}",
                f"{rows / core_seconds:,.0f}",
                f"{loop_seconds / core_seconds:.0f}×",
            ],
            [
                "segments (KMeans, k by silhouette)",
                f"{segment_seconds:.2f}",
                f"{rows / segment_seconds:,.0f}",
                "",
            ],
            [
                "core + segments",
                f"{core_seconds + segment_seconds:.2f}",
                f"{rows / (core_seconds + segment_seconds):,.0f}",
                f"{loop_seconds / (core_seconds + segment_seconds):.0f}×",
            ],
            [
                f"per-customer loop (sample of {args.loop_sample}, scaled)",
                f"{loop_seconds:.1f}",
                f"{rows / loop_seconds:,.0f}",
                "1×",
            ],
        ],
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"Peak memory of the benchmark process: {peak:,.0f} MiB (includes generating the portfolio)"
    )
    print("Goal: core ≤ 5 s and ≥ 50× the loop.")


if __name__ == "__main__":
    main()

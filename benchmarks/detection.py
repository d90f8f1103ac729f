"""Detection: does RevTrend find the customers that are truly declining, and only those?

Scores RevTrend's method (``analytics.core.analyze_portfolio``) and the prototype's rule
(``analytics.core.baseline``, docs/method.md §14) side by side on synthetic
portfolios with known truth (``customers.demo.generate_portfolio``), generated in memory: no
database.

    .venv/bin/python benchmarks/detection.py [--customers 5000] [--seeds 1,2,3] [--dump PATH]

Goals (issue 3): F1 >= 0.93 (level >= 1), >= 0.90 (>= 2), >= 0.85 (>= 3); false alarms <= 5 %
on true-level-0 customers; anomaly recall >= 0.85 at precision >= 0.80 on the injected spikes.

Scoring rules: "level >= k" counts customers whose true level is known (insufficient-data
customers are reported on their own); a customer a method gives no level counts as predicted
below every k and as wrong for exact-level accuracy. An anomaly is a hit when its customer and
month match an injected spike month.

``--dump PATH`` writes one row per customer and seed: the truth (``true_level`` -1 where the
truth has none), then per method ``<method>_level`` (-1 = no level), ``_flags`` (anomaly months
flagged) and ``_hits`` (of those, injected spike months), and RevTrend's figures as ``ours_*``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from analytics.core import Params, analyze_portfolio
from analytics.core.baseline import NO_LEVEL, seed_rule_anomalies, seed_rule_levels
from benchmarks._django import print_table
from benchmarks.portfolio import monthly_matrix
from customers.demo import PATTERNS, generate_portfolio

END_MONTH = "2025-12"
MONTHS = 36
LEVELS = (1, 2, 3)
F1_GOALS = {1: 0.93, 2: 0.90, 3: 0.85}
FALSE_ALARM_GOAL = 0.05
ANOMALY_PRECISION_GOAL = 0.80
ANOMALY_RECALL_GOAL = 0.85
# Patterns whose customers are truly level 0 but easy to mistake for decliners.
FALSE_ALARM_PATTERNS = ("seasonal", "volatile", "intermittent", "stable", "growing")
LABELS = {"seed": "seed rule", "ours": "RevTrend"}
PER_SEED_HEADERS = ["seed", "method", "F1 ≥ 1", "F1 ≥ 2", "F1 ≥ 3", "exact", "false alarms"]
PER_SEED_HEADERS += ["anomaly P", "anomaly R", "seconds"]


@dataclass(frozen=True)
class MethodOutput:
    levels: np.ndarray  # int per matrix row, NO_LEVEL (-1) for "insufficient data"
    anomalies: np.ndarray  # bool, matrix shape
    seconds: float
    figures: pd.DataFrame | None = None  # per-row figures kept for --dump


Method = Callable[[np.ndarray, pd.DatetimeIndex], MethodOutput]


def run_seed_rule(matrix: np.ndarray, months: pd.DatetimeIndex) -> MethodOutput:
    started = time.perf_counter()
    levels = seed_rule_levels(matrix)
    anomalies = seed_rule_anomalies(matrix)
    return MethodOutput(levels, anomalies, time.perf_counter() - started)


def run_revtrend(matrix: np.ndarray, months: pd.DatetimeIndex) -> MethodOutput:
    started = time.perf_counter()
    result = analyze_portfolio(matrix, months, Params())
    seconds = time.perf_counter() - started
    figures = result.figures.reset_index(drop=True)
    levels = figures["decline_level"].astype("Int64").fillna(NO_LEVEL).to_numpy(dtype=np.int64)
    mask = np.zeros(matrix.shape, dtype=bool)
    columns = months.get_indexer(pd.DatetimeIndex(result.anomalies["month"]))
    if (columns < 0).any():
        raise ValueError("analyze_portfolio returned anomalies outside the matrix's months")
    mask[result.anomalies["row"].to_numpy(dtype=np.int64), columns] = True
    return MethodOutput(levels, mask, seconds, figures.drop(columns=["decline_level"]))


METHODS: dict[str, Method] = {"seed": run_seed_rule, "ours": run_revtrend}


# --- one seed: generate, run every method, one scored row per customer ------------------------


def spike_mask(truth: pd.DataFrame, months: pd.DatetimeIndex) -> np.ndarray:
    """Bool (truth rows x months) of the injected spike months; ``truth`` has a RangeIndex."""
    mask = np.zeros((len(truth), len(months)), dtype=bool)
    spikes = truth["spike_months"].fillna("").str.split(";").explode()
    spikes = spikes[spikes.str.len() > 0]
    columns = months.get_indexer(pd.to_datetime(spikes.to_numpy(), format="%Y-%m"))
    mask[spikes.index.to_numpy(), columns] = True
    return mask


def score_seed(seed: int, customers: int, methods: dict[str, Method]) -> pd.DataFrame:
    portfolio = generate_portfolio(
        customers=customers, months=MONTHS, seed=seed, end_month=END_MONTH
    )
    matrix, months, customer_ids = monthly_matrix(portfolio.transactions, END_MONTH)
    truth = portfolio.truth.reset_index(drop=True)
    rows = pd.Index(customer_ids).get_indexer(truth["customer_id"])  # -1: no transactions
    spikes = spike_mask(truth, months)

    frame = truth_columns(truth, seed)
    frame["true_spikes"] = spikes.sum(axis=1)
    for key, method in methods.items():
        output = method(matrix, months)
        frame[f"{key}_level"] = pick_rows(output.levels, rows, NO_LEVEL)
        flags = pick_rows(output.anomalies, rows, False)
        frame[f"{key}_flags"] = flags.sum(axis=1)
        frame[f"{key}_hits"] = (flags & spikes).sum(axis=1)
        frame[f"{key}_seconds"] = output.seconds / len(frame)  # sums to the method's run time
        if output.figures is not None:
            picked = output.figures.reindex(rows).reset_index(drop=True)  # -1: NaN row
            frame = pd.concat([frame, picked.add_prefix(f"{key}_")], axis=1)
    return frame


def truth_columns(truth: pd.DataFrame, seed: int) -> pd.DataFrame:
    frame = truth[
        [
            "customer_id",
            "pattern",
            "true_change_12m",
            "scale",
            "onset_month",
            "churned",
            "spike_months",
            "decline_shape",
            "span_months",
            "active_months",
            "order_rate",
            "noise_cv",
            "seasonal_amplitude",
        ]
    ].copy()
    frame.insert(0, "seed", seed)
    frame.insert(3, "true_level", truth["true_level"].fillna(NO_LEVEL).to_numpy(dtype=np.int64))
    return frame


def pick_rows(values: np.ndarray, rows: np.ndarray, missing: object) -> np.ndarray:
    """values[rows], with ``missing`` where a truth customer has no matrix row (rows == -1)."""
    picked = values[np.clip(rows, 0, None)].copy()
    picked[rows < 0] = missing
    return picked


# --- metrics over a scored frame (one seed or pooled) -----------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else float("nan")


def detection(frame: pd.DataFrame, key: str) -> dict[str, float]:
    judged = frame[frame["true_level"] >= 0]
    true, predicted = judged["true_level"], judged[f"{key}_level"]
    figures: dict[str, float] = {}
    for k in LEVELS:
        hits = ((predicted >= k) & (true >= k)).sum()
        figures[f"precision_{k}"] = ratio(hits, (predicted >= k).sum())
        figures[f"recall_{k}"] = ratio(hits, (true >= k).sum())
        figures[f"f1_{k}"] = f1(figures[f"precision_{k}"], figures[f"recall_{k}"])
    figures["accuracy"] = ratio((predicted == true).sum(), len(judged))
    figures["false_alarms"] = false_alarm_rate(frame, key, FALSE_ALARM_PATTERNS)
    figures["anomaly_precision"] = ratio(frame[f"{key}_hits"].sum(), frame[f"{key}_flags"].sum())
    figures["anomaly_recall"] = ratio(frame[f"{key}_hits"].sum(), frame["true_spikes"].sum())
    figures["seconds"] = frame[f"{key}_seconds"].sum()
    return figures


def false_alarm_rate(frame: pd.DataFrame, key: str, patterns: tuple[str, ...]) -> float:
    level_zero = frame[(frame["true_level"] == 0) & frame["pattern"].isin(patterns)]
    return ratio((level_zero[f"{key}_level"] >= 1).sum(), len(level_zero))


# --- tables -----------------------------------------------------------------------------------


def fmt(value: float, percent: bool = False) -> str:
    if np.isnan(value):
        return "—"
    return f"{100 * value:.1f} %" if percent else f"{value:.3f}"


def mark(passed: bool) -> str:
    return "✓" if passed else "✗"


@dataclass(frozen=True)
class GoalRow:
    label: str
    figure: str  # key of detection()'s dict
    goal: str = "—"
    percent: bool = False


GOAL_ROWS: list[GoalRow] = [
    row
    for k in LEVELS
    for row in (
        GoalRow(f"precision, level ≥ {k}", f"precision_{k}"),
        GoalRow(f"recall, level ≥ {k}", f"recall_{k}"),
        GoalRow(f"**F1, level ≥ {k}**", f"f1_{k}", f"≥ {F1_GOALS[k]:.2f}"),
    )
] + [
    GoalRow("exact-level accuracy", "accuracy"),
    GoalRow("**false alarms** (true level 0, 5 patterns)", "false_alarms", "≤ 5 %", percent=True),
    GoalRow("**anomaly precision**", "anomaly_precision", f"≥ {ANOMALY_PRECISION_GOAL:.2f}"),
    GoalRow(
        "**anomaly recall**",
        "anomaly_recall",
        f"≥ {ANOMALY_RECALL_GOAL:.2f} at P ≥ {ANOMALY_PRECISION_GOAL:.2f}",
    ),
]

# Pass tests on detection()'s figures; a NaN figure fails. Recall counts only at the precision.
GOAL_TESTS: dict[str, Callable[[dict[str, float]], bool]] = {
    **{f"f1_{k}": (lambda d, k=k: d[f"f1_{k}"] >= F1_GOALS[k]) for k in LEVELS},
    "false_alarms": lambda d: d["false_alarms"] <= FALSE_ALARM_GOAL,
    "anomaly_precision": lambda d: d["anomaly_precision"] >= ANOMALY_PRECISION_GOAL,
    "anomaly_recall": lambda d: (
        d["anomaly_recall"] >= ANOMALY_RECALL_GOAL
        and d["anomaly_precision"] >= ANOMALY_PRECISION_GOAL
    ),
}


def goal_cell(figures: dict[str, float], row: GoalRow) -> str:
    text = fmt(figures[row.figure], row.percent)
    test = GOAL_TESTS.get(row.figure)
    return text if test is None else f"{text} {mark(test(figures))}"


def print_goals(frame: pd.DataFrame, keys: list[str]) -> None:
    pooled = {key: detection(frame, key) for key in keys}
    rows = [
        [row.label, row.goal] + [goal_cell(pooled[key], row) for key in keys] for row in GOAL_ROWS
    ]
    rows.append(["run time (s)", "—"] + [f"{pooled[key]['seconds']:.2f}" for key in keys])
    print("\n### Pooled over all seeds, against the goals of issue 3")
    print_table(["figure", "goal"] + [LABELS[key] for key in keys], rows)


def print_per_seed(frame: pd.DataFrame, keys: list[str]) -> None:
    rows = []
    groups = [(str(seed), part) for seed, part in frame.groupby("seed")] + [("pooled", frame)]
    for scope, part in groups:
        for key in keys:
            d = detection(part, key)
            rows.append(
                [scope, LABELS[key]]
                + [fmt(d[f"f1_{k}"]) for k in LEVELS]
                + [fmt(d["accuracy"]), fmt(d["false_alarms"], percent=True)]
                + [fmt(d["anomaly_precision"]), fmt(d["anomaly_recall"]), f"{d['seconds']:.2f}"]
            )
    print("\n### Per seed")
    print_table(PER_SEED_HEADERS, rows)


def print_false_alarms(frame: pd.DataFrame, keys: list[str]) -> None:
    rows = []
    for patterns in [(p,) for p in FALSE_ALARM_PATTERNS] + [FALSE_ALARM_PATTERNS]:
        count = ((frame["true_level"] == 0) & frame["pattern"].isin(patterns)).sum()
        rates = [false_alarm_rate(frame, key, patterns) for key in keys]
        label = patterns[0] if len(patterns) == 1 else "**combined**"
        rows.append(
            [label, f"{count:,}"]
            + [f"{fmt(r, percent=True)} {mark(r <= FALSE_ALARM_GOAL)}" for r in rates]
        )
    print("\n### False alarms (level ≥ 1) on true-level-0 customers, pooled; goal ≤ 5 %")
    print_table(["pattern", "customers"] + [LABELS[key] for key in keys], rows)


def print_insufficient(frame: pd.DataFrame, keys: list[str]) -> None:
    unknown = frame[frame["true_level"] < 0]
    known = frame[frame["true_level"] >= 0]
    rows = []
    for key in keys:
        level = f"{key}_level"
        rows.append(
            [
                LABELS[key],
                fmt(ratio((unknown[level] >= 0).sum(), len(unknown)), percent=True),
                fmt(ratio((unknown[level] >= 1).sum(), len(unknown)), percent=True),
                fmt(ratio((known[level] < 0).sum(), len(known)), percent=True),
            ]
        )
    print(
        f"\n### Insufficient data, pooled: {len(unknown):,} customers without a true level, "
        f"{len(known):,} with one"
    )
    print_table(
        ["method", "no true level: given a level", "… given level ≥ 1", "true level: given none"],
        rows,
    )


def print_patterns(frame: pd.DataFrame, keys: list[str]) -> None:
    rows = []
    for pattern in [p for p in PATTERNS if p in set(frame["pattern"])]:
        part = frame[frame["pattern"] == pattern]
        known = part[part["true_level"] >= 0]
        row: list[object] = [pattern, f"{len(part):,}", mean_level(part["true_level"])]
        row += [fmt((part[f"{key}_level"] >= 1).mean(), percent=True) for key in keys]
        row += [mean_level(part[f"{key}_level"]) for key in keys]
        row += [
            fmt(ratio((known[f"{key}_level"] == known["true_level"]).sum(), len(known)), True)
            for key in keys
        ]
        row += [fmt((part[f"{key}_level"] < 0).mean(), percent=True) for key in keys]
        rows.append(row)
    headers = ["pattern", "customers", "true mean level"]
    for title in ("≥ 1", "mean level", "exact", "no level"):
        headers += [f"{LABELS[key]} {title}" for key in keys]
    print("\n### Per pattern, pooled (mean level over customers given a level)")
    print_table(headers, rows)


def mean_level(levels: pd.Series) -> str:
    given = levels[levels >= 0]
    return f"{given.mean():.2f}" if len(given) else "—"


def print_confusion(frame: pd.DataFrame, key: str) -> None:
    predicted_values = [NO_LEVEL, 0, 1, 2, 3]
    rows = []
    for true_level in [0, 1, 2, 3, NO_LEVEL]:
        part = frame[frame["true_level"] == true_level]
        counts = part[f"{key}_level"].value_counts()
        rows.append(
            [level_name(true_level), f"{len(part):,}"]
            + [f"{counts.get(value, 0):,}" for value in predicted_values]
        )
    print(f"\n### Confusion, {LABELS[key]}, pooled (rows: truth, columns: predicted)")
    print_table(["true", "customers"] + [level_name(v) for v in predicted_values], rows)


def level_name(level: int) -> str:
    return "none" if level == NO_LEVEL else str(level)


def print_anomalies(frame: pd.DataFrame, keys: list[str]) -> None:
    rows = []
    groups = [(p, frame[frame["pattern"] == p]) for p in PATTERNS if p in set(frame["pattern"])]
    for pattern, part in [*groups, ("**all**", frame)]:
        row: list[object] = [pattern, f"{part['true_spikes'].sum():,}"]
        for key in keys:
            hits, flags = part[f"{key}_hits"].sum(), part[f"{key}_flags"].sum()
            row += [
                f"{flags:,}",
                fmt(ratio(hits, flags)),
                fmt(ratio(hits, part["true_spikes"].sum())),
            ]
        rows.append(row)
    headers = ["pattern", "spikes"]
    for key in keys:
        headers += [f"{LABELS[key]} flags", f"{LABELS[key]} P", f"{LABELS[key]} R"]
    print("\n### Anomalies against the injected spikes, per pattern, pooled")
    print_table(headers, rows)


# --- entry point ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated generator seeds")
    parser.add_argument("--dump", type=Path, help="write truth and predictions per customer")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    keys = list(METHODS)
    frame = pd.concat(
        [score_seed(seed, args.customers, METHODS) for seed in seeds], ignore_index=True
    )
    print(
        f"\nDetection benchmark: seeds {', '.join(map(str, seeds))} × "
        f"{args.customers:,} customers × {MONTHS} months ending {END_MONTH}, "
        f"generated by customers.demo; methods: {', '.join(LABELS[key] for key in keys)}"
    )
    print_goals(frame, keys)
    print_per_seed(frame, keys)
    print_false_alarms(frame, keys)
    print_insufficient(frame, keys)
    print_patterns(frame, keys)
    print_anomalies(frame, keys)
    for key in keys:
        print_confusion(frame, key)
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        timings = [column for column in frame if column.endswith("_seconds")]
        frame.drop(columns=timings).to_csv(args.dump, index=False, lineterminator="\n")
        print(f"\nPer-customer truth and predictions written to {args.dump}")


if __name__ == "__main__":
    main()

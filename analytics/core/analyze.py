"""Every per-customer figure of docs/method.md for a whole portfolio.

Customers are grouped by the length of their span (first month with revenue to the
window's end); each group is a dense array and every step below works on all of its
rows at once. Same input and parameters ⇒ identical output.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from .anomalies import HALF_CENT, Spikes, find_spikes
from .demand import spread_orders
from .explain import explanations
from .params import ANOMALY_COLUMNS, FIGURES, Params
from .piecewise import MIN_SEGMENT, PiecewiseFit, fit_at_breaks, fit_piecewise
from .purchase import (
    PurchaseModel,
    activity_summary,
    expected_purchases,
    fit_purchase_model,
    probability_alive,
)
from .stl import MIN_STL_MONTHS, batch_stl
from .trend import lag1_autocorrelation, mann_kendall, row_median, theil_sen

TEST_WINDOW = 24  # months the trend test and the Theil–Sen slope look at
ORDER_TEST_SHARE = 0.5  # customers ordering in at most this share of them are tested by order
HORIZON = 12  # months of revenue at risk
# A customer the purchase process gives less than this chance of still buying is judged by
# what it is expected to spend next; above it, only a trend test can call a decline.
DOUBTFUL_P_ACTIVE = 0.5
# A run of empty months implausible at the customer's rhythm is churn only when the
# purchase process agrees that the customer has most likely gone (a short history of
# consecutive months followed by a pause is not proof: the portfolio's rhythm says so).
CHURN_P_ACTIVE = 0.1
PURCHASE_SAMPLE = 5_000  # customers the purchase process is fitted on (see services.purchase)
LOG_FLOOR = 0.1  # share of a customer's mean level below which a month counts as that share
ROW_BLOCK = 8192  # rows per block of the pairwise steps (bounds memory)
TASK_ROWS = 8192  # rows analysed together by one thread
MOVING_AVERAGE_MONTHS = 3
# Per-customer series for the diagnostics chart, each shaped like the matrix (NaN outside
# the customer's span; the Theil–Sen lines only over the test window).
CHART_SERIES: tuple[str, ...] = (
    "trend",
    "seasonal",
    "expected",
    "underlying",
    "theil_sen",
    "theil_sen_low",
    "theil_sen_high",
    "moving_average",
)
MAX_THREADS = 8


@dataclass
class CoreResult:
    figures: pd.DataFrame
    anomalies: pd.DataFrame
    components: dict[str, np.ndarray] = field(default_factory=dict)
    # Every figure, the internal ones too (backtests and the benchmarks read them).
    internal: pd.DataFrame | None = None


def span_lengths(matrix: np.ndarray) -> np.ndarray:
    """Months from each customer's first month (first non-NaN) to the window's end."""
    present = ~np.isnan(matrix)
    first = np.where(present.any(axis=1), present.argmax(axis=1), matrix.shape[1])
    lengths: npt.NDArray[np.intp] = matrix.shape[1] - first
    return lengths


def analyze_portfolio(matrix: np.ndarray, months: pd.DatetimeIndex, params: Params) -> CoreResult:
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, width = matrix.shape
    if len(months) != width:
        raise ValueError(f"{width} matrix columns but {len(months)} months")
    spans = span_lengths(matrix)
    if params.purchase_model is None:
        params = dataclasses.replace(params, purchase_model=portfolio_purchase_model(matrix))
    out = _empty_figures(rows)
    components = {k: np.full((rows, width), np.nan) for k in CHART_SERIES}
    anomaly_parts = []
    tasks = _row_tasks(spans)

    def work(task: np.ndarray) -> tuple[np.ndarray, int, np.ndarray, GroupResult]:
        length = int(spans[task[0]])
        series = np.nan_to_num(matrix[task, width - length :], nan=0.0)
        return task, length, series, analyze_group(series, params)

    # Every figure depends on its own row only, so blocks of rows run side by side on the
    # machine's cores (numpy releases the GIL) and the result does not depend on the split.
    # BLAS gets one thread per worker: two BLAS threads under each of two workers fight
    # over two cores (measured: 1.5 s instead of 2.1 s for 100,000 customers).
    with ThreadPoolExecutor(max_workers=_workers()) as pool, threadpool_limits(1, "blas"):
        for members, length, series, group in pool.map(work, tasks):
            for name, values in group.figures.items():
                out[name][members] = values
            for name in components:
                components[name][members, width - length :] = group.components[name]
            anomaly_parts.append(_anomaly_rows(members, width - length, group, series))
    figures = _figures_frame(out, months, spans)
    anomalies = _anomalies_frame(anomaly_parts, months)
    figures["anomaly_count"] = (
        np.bincount(anomalies["row"].to_numpy(dtype=np.int64), minlength=rows)
        if len(anomalies)
        else np.zeros(rows, dtype=np.int64)
    )
    figures["explanation"] = explanations(figures, params)
    return CoreResult(figures[list(FIGURES)], anomalies, components, figures)


def portfolio_purchase_model(matrix: np.ndarray) -> tuple[float, float, float, float]:
    """The purchase process's parameters fitted on the matrix's customers: every one of a
    small portfolio, a systematic sample of ``PURCHASE_SAMPLE`` of a large one (as a run
    samples its customers: the population's rhythm is as well measured, in a fraction of
    the time)."""
    every = max(1, -(-len(matrix) // PURCHASE_SAMPLE))
    active = np.nan_to_num(matrix[::every], nan=0.0) >= HALF_CENT
    x, t_x, n = activity_summary(active, active.any(axis=1))
    return fit_purchase_model(x, t_x, n).as_tuple()


def _row_tasks(spans: np.ndarray) -> list[np.ndarray]:
    """Rows of equal span length, in blocks of at most ``TASK_ROWS``."""
    tasks = []
    for length in np.unique(spans[spans > 0]):
        members = np.flatnonzero(spans == length)
        tasks += [members[i : i + TASK_ROWS] for i in range(0, len(members), TASK_ROWS)]
    return tasks


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_THREADS))


@dataclass
class GroupResult:
    figures: dict[str, np.ndarray]
    components: dict[str, np.ndarray]
    anomaly_mask: np.ndarray
    zscores: np.ndarray
    anomaly_expected: np.ndarray  # each month's expected order (what a spike is judged by)


def analyze_group(series: np.ndarray, params: Params) -> GroupResult:
    """All figures for customers whose spans have the same length (rows × months)."""
    n, length = series.shape
    basics = _basics(series, params)
    purchase = _purchase(series, params)
    churn = _churn(series, params)
    churn["churned"] &= ~basics["insufficient"] & (purchase["p_active"] < CHURN_P_ACTIVE)
    trend, seasonal, cleaned, demand, spikes = _decompose(
        series, params, ~basics["insufficient"], churn["churned"]
    )
    expected = trend + seasonal
    residual = cleaned - expected
    underlying = quantise(demand - seasonal)
    fit = fit_piecewise(underlying)
    window = min(length, TEST_WINDOW)
    test_window, orders = _test_window(quantise(cleaned - seasonal), underlying, cleaned, window)
    tests = _trend_tests(test_window, orders)
    change, drift = _relative_change(underlying, fit.break_index, churn["churned"])
    trend_level = _levels(change, tests, churn["churned"], basics["insufficient"], params)
    forecast = _forecast(purchase, cleaned, drift, tests, params)
    level, by_purchase = _combined_level(trend_level, forecast, purchase, basics, params)
    level = np.where(churn["churned"], 3, level)
    # Where the purchase process set the level, the customer's level now is what it is
    # expected to spend: its change is that against the last 12 months.
    change = np.where(by_purchase & ~churn["churned"], forecast["expected_change_12m"], change)
    onset = _onset(fit, level, trend_level, churn, purchase, length)
    at_risk = np.maximum(0.0, HORIZON * forecast["baseline"] - forecast["expected_revenue_12m"])
    # Money counts as at risk for a declining customer, and for any customer expected to bring
    # at least a mild decline's share less than last year. Measured on CDNOW: limiting it to
    # customers the purchase process judges cut the top 100's real loss from 49,571 to 38,238
    # (1997-12): frequent buyers' expected fall toward the portfolio's rhythm is real.
    mild = params.level_edges[0]
    expected_fall = np.nan_to_num(forecast["expected_change_12m"], nan=0.0) <= mild
    at_stake = ~basics["insufficient"] & ((level >= 1) | expected_fall)
    figures = {
        **basics,
        **tests,
        "relative_change_12m": change,
        "resid_std": residual.std(axis=1, ddof=1) if length > 1 else np.zeros(n),
        "seasonal_strength": _seasonal_strength(seasonal, residual, length),
        "churned": churn["churned"],
        "decline_level": level,
        "onset_index": onset,
        "revenue_at_risk": np.where(at_stake, at_risk, 0.0),
        "months_since_last_revenue": churn["gap"],
        "activity_before_gap": churn["activity"],
        "p_active": purchase["p_active"],
        **forecast,
        "repeat_months": purchase["x"],
        "last_repeat_month": purchase["t_x"],
        "opportunities": purchase["n"],
        "by_purchase": by_purchase,
    }
    _blank_insufficient(figures, basics["insufficient"])
    # A straight segment cannot bend to a plateau at zero (a churned customer): on the chart
    # the underlying level stops at the lowest the customer's revenue went (0 unless refunds).
    floor = np.minimum(0.0, demand.min(axis=1, initial=0.0))[:, None]
    chart = {
        "trend": trend,
        "seasonal": seasonal,
        "expected": expected,
        "underlying": np.maximum(fit.fitted, floor),
    }
    chart.update(_theil_sen_lines(test_window, tests, length))
    chart["moving_average"] = _trailing_mean(series, MOVING_AVERAGE_MONTHS)
    return GroupResult(figures, chart, spikes.flagged, spikes.zscore, spikes.expected)


def _purchase(series: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """The purchase process's view of each customer: (x, t_x, n), P(still buying) and the
    months it is expected to buy in over the next 12. Computed once per distinct history
    (a few thousand among any number of customers) and handed back to every row."""
    assert params.purchase_model is not None, "analyze_portfolio fits it first"
    model = PurchaseModel(*params.purchase_model)
    active = series >= HALF_CENT
    # A 2-D mask reduced along its rows: an array, never the scalar numpy's stubs allow for.
    valid = cast(npt.NDArray[np.bool_], active.any(axis=1))
    x, t_x, n = activity_summary(active, valid)
    patterns, inverse = np.unique(np.stack([x, t_x, n], axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    px, pt, pn = (patterns[:, i].astype(np.float64) for i in range(3))
    p_active = np.where(valid, probability_alive(model, px, pt, pn)[inverse], 0.0)
    buying = expected_purchases(model, px, pt, pn, HORIZON)[inverse]
    return {
        "x": x, "t_x": t_x, "n": n, "p_active": p_active, "active": active,
        "buying_months": buying,
    }  # fmt: skip


def _forecast(
    purchase: dict[str, np.ndarray],
    cleaned: np.ndarray,
    drift: np.ndarray,
    tests: dict[str, np.ndarray],
    params: Params,
) -> dict[str, np.ndarray]:
    """Expected revenue over the next 12 months: the months the purchase process expects the
    customer to buy in, times what it spends in a month it buys (its last 12 months of
    buying, spikes replaced), times where a significant trend has taken its level since
    (the fitted underlying level now over its mean of the last 12 months).

    ``baseline`` is the mean monthly revenue of the last 12 months (spikes replaced): what the
    customer brought in over the past year, the yardstick of revenue at risk and of the
    forward change ``expected_change_12m``."""
    buying_months = purchase["buying_months"]
    spend = spend_per_active_month(cleaned, purchase["active"])
    drift = np.where((tests["p_value"] < params.alpha) & np.isfinite(drift), drift, 1.0)
    drift = np.clip(drift, 0.0, 2.0)
    expected_revenue = buying_months * spend * drift
    baseline = cleaned[:, -HORIZON:].mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        expected_change = np.where(
            baseline >= HALF_CENT, expected_revenue / (HORIZON * baseline) - 1.0, np.nan
        )
    return {
        "expected_revenue_12m": expected_revenue,
        "baseline": baseline,
        "expected_change_12m": expected_change,
        "spend_per_active_month": spend * drift,
    }


def spend_per_active_month(cleaned: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Mean revenue of the months a customer bought in, over the 12 months up to its last
    purchase (0 for a customer that never bought)."""
    length = cleaned.shape[1]
    positions = np.arange(length)[None, :]
    last = length - 1 - np.argmax(active[:, ::-1], axis=1)
    recent = active & (positions > (last - HORIZON)[:, None]) & (positions <= last[:, None])
    counts = recent.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spend = np.where(recent, cleaned, 0.0).sum(axis=1) / counts
    return np.where(counts > 0, np.maximum(spend, 0.0), 0.0)


def _combined_level(
    trend_level: np.ndarray,
    forecast: dict[str, np.ndarray],
    purchase: dict[str, np.ndarray],
    basics: dict[str, np.ndarray],
    params: Params,
) -> tuple[np.ndarray, np.ndarray]:
    """The trend test's level for customers it can judge; for a customer the purchase
    process doubts (P(still buying) < 0.5), the level of its expected change, when worse.
    Returns the level and where the purchase process set it."""
    doubtful = purchase["p_active"] < DOUBTFUL_P_ACTIVE
    by_purchase = np.where(doubtful, _edge_level(forecast["expected_change_12m"], params), 0)
    tested = basics["active_months"] >= params.min_active_months
    level = np.where(tested, np.maximum(trend_level, by_purchase), by_purchase)
    level = np.where(basics["insufficient"], -1, level)
    return level, ~basics["insufficient"] & (~tested | (by_purchase > trend_level))


def _edge_level(change: np.ndarray, params: Params) -> np.ndarray:
    mild, moderate, sharp = params.level_edges
    change = np.nan_to_num(change, nan=0.0)
    return np.select([change <= sharp, change <= moderate, change <= mild], [3, 2, 1], default=0)


# Trend figures of a customer with too little data would be noise: they stay empty, as
# its level does; the descriptive figures (mean, spread, months) are kept.
UNJUDGED = (
    "p_active",
    "expected_revenue_12m",
    "expected_change_12m",
    "slope",
    "slope_low",
    "slope_high",
    "p_value",
    "relative_change_12m",
    "resid_std",
    "seasonal_strength",
)


def _blank_insufficient(figures: dict[str, np.ndarray], insufficient: np.ndarray) -> None:
    for name in UNJUDGED:
        figures[name] = np.where(insufficient, np.nan, figures[name])


def _theil_sen_lines(
    window: np.ndarray, tests: dict[str, np.ndarray], length: int
) -> dict[str, np.ndarray]:
    """The Theil–Sen line over the test window and its band (the interval's slopes), all
    through the window's centre and median, as scipy places the line; NaN before it."""
    steps = np.arange(window.shape[1]) - (window.shape[1] - 1) / 2.0
    centre = row_median(window)[:, None]
    lines = {}
    for name, slope in (
        ("theil_sen", "slope"),
        ("theil_sen_low", "slope_low"),
        ("theil_sen_high", "slope_high"),
    ):
        line = np.full((len(window), length), np.nan)
        line[:, length - window.shape[1] :] = centre + tests[slope][:, None] * steps[None, :]
        lines[name] = line
    return lines


def _trailing_mean(series: np.ndarray, months: int) -> np.ndarray:
    """Mean of each month and the months - 1 before it (NaN until there are enough)."""
    cumulative = np.cumsum(np.pad(series, ((0, 0), (1, 0))), axis=1)
    out = np.full(series.shape, np.nan)
    if series.shape[1] >= months:
        out[:, months - 1 :] = (cumulative[:, months:] - cumulative[:, :-months]) / months
    return out


def _basics(series: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    n, length = series.shape
    active = (series >= HALF_CENT).sum(axis=1)
    mean = series.mean(axis=1)
    std = series.std(axis=1, ddof=1) if length > 1 else np.zeros(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(mean > 0, std / mean, np.nan)
    # Every customer with a purchase and min_span_months of history is judged: by its trend
    # when it has min_active_months, by its purchase process in any case.
    insufficient = (length < params.min_span_months) | (active < 1)
    return {
        "revenue_mean": mean,
        "revenue_std": std,
        "cv": cv,
        "active_months": active,
        "n_months": np.full(n, length),
        "insufficient": insufficient,
    }


def _components(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """STL when the span allows it, else a Theil–Sen line and no seasonal term."""
    length = series.shape[1]
    if length >= MIN_STL_MONTHS:
        return batch_stl(series)
    slope, _, _, intercept = _blocked(theil_sen, series)
    line = intercept[:, None] + slope[:, None] * np.arange(length)[None, :]
    return line, np.zeros_like(series)


def _decompose(
    series: np.ndarray, params: Params, analysed: np.ndarray, churned: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Spikes]:
    """Find the spikes first (against each customer's local order rate, which they cannot
    drag, see ``anomalies``) and put the customer's expected order in their place; spread
    each order over the months it carries (``demand``) and decompose that: a spike would
    pull the trend towards itself, a periodic seasonal term would repeat it in every year's
    same month, and lumpy orders would pass for seasonality."""
    spikes = find_spikes(series, analysed, params.anomaly_z)
    cleaned = np.where(spikes.flagged, spikes.expected, series)
    demand = spread_orders(cleaned, churned)
    trend, seasonal = _components(demand)
    return trend, seasonal, cleaned, demand, spikes


def _test_window(
    observed: np.ndarray, underlying: np.ndarray, cleaned: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """What the trend test and the Theil–Sen slope look at: the last ``window`` months.

    A customer who orders in most months is judged on its months as observed (the
    deseasonalised, spike-cleaned revenue): the months are the observations. On the spread
    demand the test would be more powerful but overconfident, its months no longer being
    separate observations (measured: 5.4–6.5 % false alarms on stable, seasonal and volatile
    customers instead of 3.4–4.4 %). A customer who orders in at most half of the months is
    judged on its orders, each one's monthly rate (``underlying`` at the order's month) in
    time order: its months as observed are mostly zeros, on which a rank test can hardly see
    even a halving. Returns the window and the mask of cells the test counts (all months
    for the former, the order months for the latter).
    """
    orders = np.abs(cleaned[:, -window:]) >= HALF_CENT
    by_order = orders.mean(axis=1) <= ORDER_TEST_SHARE
    test_window = np.where(by_order[:, None], underlying[:, -window:], observed[:, -window:])
    return test_window, orders | ~by_order[:, None]


def quantise(series: np.ndarray) -> np.ndarray:
    """Round to a billionth of each row's largest value, so that the rounding noise of the
    matrix products cannot order values a person would call equal (a flat series stays
    flat, and a one-ulp change of the input cannot flip a rank-based test)."""
    step = 1e-9 * np.abs(series).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(step > 0, np.round(series / step) * step, series)


def _blocked(
    function: Callable[[np.ndarray], tuple[np.ndarray, ...]], series: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Run a pairwise-difference function on blocks of rows, to bound memory."""
    parts = [
        function(series[start : start + ROW_BLOCK]) for start in range(0, len(series), ROW_BLOCK)
    ]
    return tuple(np.concatenate(values) for values in zip(*parts, strict=True))


def _trend_tests(window: np.ndarray, counted: np.ndarray) -> dict[str, np.ndarray]:
    """Theil–Sen slope and Mann–Kendall p-value on the test window (the test over the
    ``counted`` cells only; the slope over every month).

    The lag-1 autocorrelation that inflates the test's variance is measured on what a
    one-break piecewise-linear fit of the window leaves over. Measured around a straight
    line, a genuine bend (flat, then falling) would pass for autocorrelated noise and hide
    a clean decline; around the piecewise fit it is the noise's own.
    """
    slope, low, high, _ = _blocked(theil_sen, window)
    misfit = window - fit_piecewise(window).fitted
    # Always the masked form, so that a row's figures never depend on the rows beside it.
    rho1 = lag1_autocorrelation(misfit, counted)
    # A series the fit explains exactly leaves only rounding noise: no autocorrelation.
    negligible = misfit.std(axis=1) <= 1e-9 * np.abs(window).max(axis=1)
    rho1 = np.where(negligible, 0.0, rho1)
    _, _, p_value = _mann_kendall_blocked(window, rho1, counted)
    return {"slope": slope, "slope_low": low, "slope_high": high, "p_value": p_value}


def _mann_kendall_blocked(
    window: np.ndarray, rho1: np.ndarray, counted: np.ndarray
) -> tuple[np.ndarray, ...]:
    parts = []
    for start in range(0, len(window), ROW_BLOCK):
        block = slice(start, start + ROW_BLOCK)
        mask = None if counted[block].all() else counted[block]
        parts.append(mann_kendall(window[block], rho1=rho1[block], mask=mask))
    return tuple(np.concatenate(values) for values in zip(*parts, strict=True))


def _relative_change(
    underlying: np.ndarray, break_index: np.ndarray, churned: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Change of the underlying level over the last 12 months, on the multiplicative scale.

    Revenue shrinks by shares, so the level of the last 13 months is fitted on logs (a line,
    bent where the fit of the level found its break if that falls inside them; each month
    floored at a tenth of the customer's mean level, so that one thin month of a lumpy account
    cannot pass for a collapse): a customer losing 3 % a month reads 0.97¹² − 1 = −31 %, where
    a straight line through the curve would overstate the fall at its end. A churned customer
    has lost everything: −100 %.

    Also returns the drift: the fitted level now over its mean of the last 12 months."""
    length = underlying.shape[1]
    scale = np.where(underlying > 0, underlying, 0.0).mean(axis=1)
    floor = np.where(scale > 0, LOG_FLOOR * scale, 1.0)[:, None]
    first = max(0, length - 1 - HORIZON)  # the last 13 months, or all of a shorter span
    logs = quantise(np.log(np.maximum(underlying[:, first:], floor)))
    inside = break_index - first
    inside = np.where((inside >= MIN_SEGMENT) & (inside < logs.shape[1] - MIN_SEGMENT), inside, -1)
    fitted = fit_at_breaks(logs, inside, np.arange(logs.shape[1]))
    now = fitted[:, -1]
    if length > HORIZON:
        then = fitted[:, 0]
    else:  # extend the fit's first segment back to 12 months before the end
        slope = fitted[:, 1] - fitted[:, 0] if length > 1 else np.zeros(len(fitted))
        then = fitted[:, 0] - slope * (HORIZON - (length - 1))
    change = np.where(scale > 0, np.expm1(now - then), np.nan)
    drift = 1.0 / np.exp(fitted[:, -HORIZON:] - now[:, None]).mean(axis=1)
    return np.where(churned, -1.0, change), drift


def _churn(series: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """A run of empty months at the end that the customer's own buying rate makes
    implausible: P(k empty months) = (1 − p)^k < churn_probability, p = share of active
    months before the run."""
    length = series.shape[1]
    empty = series < HALF_CENT
    gap = np.where(empty.all(axis=1), length, np.argmax(~empty[:, ::-1], axis=1))
    before = np.maximum(length - gap, 1)
    active_before = (
        (series >= HALF_CENT) & (np.arange(length)[None, :] < (length - gap)[:, None])
    ).sum(axis=1)
    activity = active_before / before
    chance = (1 - activity) ** gap
    churned = (
        (gap >= params.min_churn_months) & (chance < params.churn_probability) & (active_before > 0)
    )
    return {"churned": churned, "gap": gap, "activity": activity}


def _levels(
    change: np.ndarray,
    tests: dict[str, np.ndarray],
    churned: np.ndarray,
    insufficient: np.ndarray,
    params: Params,
) -> np.ndarray:
    mild, moderate, sharp = params.level_edges
    significant = (tests["p_value"] < params.alpha) & (tests["slope"] < 0)
    level = np.select([change <= sharp, change <= moderate, change <= mild], [3, 2, 1], default=0)
    level = np.where(significant & np.isfinite(change), level, 0)
    level = np.where(churned, 3, level)
    return np.where(insufficient, -1, level)


def _onset(
    fit: PiecewiseFit,
    level: np.ndarray,
    trend_level: np.ndarray,
    churn: dict[str, np.ndarray],
    purchase: dict[str, np.ndarray],
    length: int,
) -> np.ndarray:
    """Index of the month the decline started; −1 when not declining. A trend's onset is its
    fit's break (or 12 months back); a decline the purchase process called starts the month
    after the last purchase; a churned customer's, the month its revenue stopped."""
    onset = np.where(fit.break_index >= 0, fit.break_index, max(length - 1 - HORIZON, 0))
    first = length - 1 - purchase["n"]
    quiet = np.minimum(first + purchase["t_x"] + 1, length - 1)
    onset = np.where(trend_level >= 1, onset, quiet)
    onset = np.where(level >= 1, onset, -1)
    return np.where(churn["churned"], length - churn["gap"], onset)


def _seasonal_strength(seasonal: np.ndarray, residual: np.ndarray, length: int) -> np.ndarray:
    if length < MIN_STL_MONTHS:
        return np.full(len(seasonal), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = residual.var(axis=1) / (seasonal + residual).var(axis=1)
    return np.where(np.isfinite(ratio), np.maximum(0.0, 1 - ratio), 0.0)


_INTERNAL = (
    "insufficient",
    "onset_index",
    "months_since_last_revenue",
    "activity_before_gap",
    "baseline",
    "expected_change_12m",
    "spend_per_active_month",
    "repeat_months",
    "last_repeat_month",
    "opportunities",
    "by_purchase",
)


def _empty_figures(rows: int) -> dict[str, np.ndarray]:
    names = [f for f in FIGURES if f not in ("onset_month", "anomaly_count", "explanation")]
    out = {name: np.full(rows, np.nan) for name in [*names, *_INTERNAL]}
    out["churned"] = np.zeros(rows, dtype=bool)
    out["by_purchase"] = np.zeros(rows, dtype=bool)
    out["insufficient"] = np.ones(rows, dtype=bool)
    out["decline_level"] = np.full(rows, -1)
    out["onset_index"] = np.full(rows, -1)
    out["active_months"] = np.zeros(rows)
    out["n_months"] = np.zeros(rows)
    return out


def _figures_frame(
    out: dict[str, np.ndarray], months: pd.DatetimeIndex, spans: np.ndarray
) -> pd.DataFrame:
    rows = len(spans)
    width = len(months)
    frame = pd.DataFrame({k: v for k, v in out.items() if k != "onset_index"})
    level = pd.array(out["decline_level"], dtype="Int64")
    level[out["decline_level"] < 0] = pd.NA
    frame["decline_level"] = level
    onset_column = width - spans + out["onset_index"]
    valid = out["onset_index"] >= 0
    onset = pd.Series(pd.NaT, index=range(rows), dtype="datetime64[ns]")
    onset[valid] = months[onset_column[valid].astype(int)]
    frame["onset_month"] = onset
    frame["active_months"] = frame["active_months"].astype(np.int64)
    frame["n_months"] = frame["n_months"].astype(np.int64)
    frame["churned"] = frame["churned"].astype(bool)
    return frame


def _anomaly_rows(
    members: np.ndarray, offset: int, group: GroupResult, series: np.ndarray
) -> pd.DataFrame:
    row_index, column = np.nonzero(group.anomaly_mask)
    return pd.DataFrame(
        {
            "row": members[row_index],
            "column": offset + column,
            "revenue": series[row_index, column],
            "expected": group.anomaly_expected[row_index, column],
            "zscore": group.zscores[row_index, column],
        }
    )


def _anomalies_frame(parts: list[pd.DataFrame], months: pd.DatetimeIndex) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=list(ANOMALY_COLUMNS))
    frame = pd.concat(parts, ignore_index=True).sort_values(["row", "column"], kind="stable")
    frame["month"] = months[frame["column"].to_numpy()]
    return frame[list(ANOMALY_COLUMNS)].reset_index(drop=True)

"""Trend figures on many series at once: Mann–Kendall and Theil–Sen, vectorised over the
pairwise differences of each row. Rows are equal-length series without NaN."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# scipy.special, not scipy.stats: the same normal tail (norm.sf(x) is ndtr(−x)) without the
# 0.8 s that importing scipy.stats adds to every process that loads the app.
from scipy.special import ndtr, ndtri


def row_median(values: np.ndarray) -> np.ndarray:
    """Median of each row. For the short rows here, numpy's vectorised sort is about three
    times faster than np.median's partition."""
    ordered = np.sort(values, axis=1)
    width = values.shape[1]
    median: npt.NDArray[np.float64] = (ordered[:, (width - 1) // 2] + ordered[:, width // 2]) / 2.0
    return median


def _pairs(length: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(length, k=1)


def tie_term(series: np.ndarray) -> np.ndarray:
    """Σ over groups of t tied values of t(t−1)(2t+5), per row (runs of the sorted row)."""
    sorted_rows = np.sort(series, axis=1)
    total = np.zeros(series.shape[0])
    run = np.ones(series.shape[0])
    for column in range(1, series.shape[1]):
        same = sorted_rows[:, column] == sorted_rows[:, column - 1]
        ended = ~same
        total += np.where(ended, run * (run - 1) * (2 * run + 5), 0.0)
        run = np.where(same, run + 1, 1.0)
    return total + run * (run - 1) * (2 * run + 5)


def previous_index(mask: np.ndarray) -> np.ndarray:
    """For each cell, the column of the nearest masked cell strictly before it in its row
    (−1 when there is none)."""
    columns = np.arange(mask.shape[1])[None, :]
    latest = np.maximum.accumulate(np.where(mask, columns, -1), axis=1)
    return np.concatenate([np.full((len(mask), 1), -1), latest[:, :-1]], axis=1)


def lag1_autocorrelation(residual: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Lag-1 autocorrelation per row; with ``mask``, of the masked cells only, each paired
    with the previous masked cell (a sequence of orders rather than of months)."""
    if mask is None:
        mask = np.ones(residual.shape, dtype=bool)
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    mean = np.where(mask, residual, 0.0).sum(axis=1, keepdims=True) / count
    centred = np.where(mask, residual - mean, 0.0)
    before = previous_index(mask)
    previous = np.where(before >= 0, np.take_along_axis(centred, np.maximum(before, 0), 1), 0)
    denominator = (centred**2).sum(axis=1)
    numerator = (centred * previous).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho: npt.NDArray[np.float64] = numerator / denominator
    return np.nan_to_num(rho, nan=0.0)


def mann_kendall(
    series: np.ndarray, *, rho1: np.ndarray | None = None, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S, its variance (tie-corrected, inflated for positive lag-1 autocorrelation),
    and the two-sided p-value, per row; with ``mask``, over each row's masked cells only
    (n is then the row's count of them). A degenerate row — fewer than 3 values, or all of
    them tied (no variance) — has no test: its p-value is NaN, never a made-up 1.

    Autocorrelation: monthly revenue is often positively autocorrelated, which makes the
    plain test overconfident. The variance is multiplied by the effective-sample-size
    factor of an AR(1) process, 1 + 2 Σ_k (1 − k/n) ρ^k (Yue & Wang 2004), using the lag-1
    autocorrelation of the detrended series, when it is positive.
    """
    width = series.shape[1]
    if width < 3:
        nothing = np.full(series.shape[0], np.nan)
        return np.zeros(series.shape[0]), np.zeros(series.shape[0]), nothing
    i, j = _pairs(width)
    signs = np.sign(series[:, j] - series[:, i])
    if mask is None:
        n = np.full(series.shape[0], float(width))
        ties = tie_term(series)
    else:
        signs = signs * (mask[:, i] & mask[:, j])
        n = mask.sum(axis=1).astype(float)
        ties = tie_term(np.where(mask, series, np.nan))  # NaN never ties
    s = signs.sum(axis=1)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    if rho1 is not None:
        variance = variance * ar1_variance_factor(rho1, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        corrected = s - np.sign(s)  # continuity correction
        z = corrected / np.sqrt(variance)
    z = np.nan_to_num(z, nan=0.0)
    p_value = np.where((n >= 3) & (variance > 0), 2 * ndtr(-np.abs(z)), np.nan)
    return s, variance, p_value


def ar1_variance_factor(rho1: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    rho = np.clip(rho1, 0.0, 0.95)[:, None]
    counts = np.maximum(np.broadcast_to(np.asarray(n, dtype=float), rho1.shape), 1.0)[:, None]
    lags = np.arange(1, max(int(counts.max(initial=0)), 1))[None, :]
    factor: npt.NDArray[np.float64] = 1 + 2 * (
        np.clip(1 - lags / counts, 0.0, None) * rho**lags
    ).sum(axis=1)
    return factor


def theil_sen(
    series: np.ndarray, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Slope (per step), its confidence interval and intercept, as scipy.stats.theilslopes
    computes them (Sen's interval from the Kendall variance), for every row."""
    n = series.shape[1]
    if n < 2:  # one month has no slope
        nothing = np.full(series.shape[0], np.nan)
        return np.zeros(series.shape[0]), nothing, nothing.copy(), series[:, 0].copy()
    i, j = _pairs(n)
    slopes = (series[:, j] - series[:, i]) / (j - i)
    pairs = slopes.shape[1]
    sigma = np.sqrt((n * (n - 1) * (2 * n + 5) - tie_term(series)) / 18.0)
    z = ndtri((1 - confidence) / 2)
    upper = np.minimum(np.round((pairs - z * sigma) / 2.0).astype(int), pairs - 1)
    lower = np.maximum(np.round((pairs + z * sigma) / 2.0).astype(int) - 1, 0)
    middle = [(pairs - 1) // 2, pairs // 2]
    median, low, high = (np.empty(series.shape[0]) for _ in range(3))
    # Only four order statistics are needed, not a full sort. Rows share their interval
    # ranks unless ties change the variance, so partition each group of equal ranks once.
    for ranks in np.unique(np.column_stack([lower, upper]), axis=0):
        rows = np.flatnonzero((lower == ranks[0]) & (upper == ranks[1]))
        part = np.partition(slopes[rows], sorted({*middle, *ranks}), axis=1)
        median[rows] = (part[:, middle[0]] + part[:, middle[1]]) / 2.0
        low[rows], high[rows] = part[:, ranks[0]], part[:, ranks[1]]
    intercept = row_median(series) - median * (n - 1) / 2.0  # scipy's "separate"
    return median, low, high, intercept

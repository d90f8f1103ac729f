"""The underlying level as a continuous piecewise-linear fit with at most one break.

For a series of length n every candidate break b gives the design [1, t, max(0, t − b)];
its least-squares projection is a fixed matrix, so all customers of one length are fitted
for every break with matrix products. The break model is kept when it beats the straight
line by BIC (the break position counts as a parameter); its break is the decline's onset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MIN_SEGMENT = 3  # months on each side of a break


@dataclass
class PiecewiseFit:
    fitted: np.ndarray  # rows × months
    break_index: np.ndarray  # int, −1 where the straight line won
    final_slope: np.ndarray  # slope of the last segment, per month


@lru_cache(maxsize=64)
def _designs(length: int) -> tuple[np.ndarray, list[np.ndarray]]:
    t = np.arange(length, dtype=float)
    line = np.column_stack([np.ones(length), t])
    breaks = [
        np.column_stack([np.ones(length), t, np.maximum(0.0, t - b)])
        for b in range(MIN_SEGMENT, length - MIN_SEGMENT)
    ]
    return line, breaks


def _fit(series: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coefficients = series @ np.linalg.pinv(design).T
    fitted = coefficients @ design.T
    return coefficients, fitted


def fit_piecewise(series: np.ndarray) -> PiecewiseFit:
    rows, length = series.shape
    line, breaks = _designs(length)
    line_coef, line_fit = _fit(series, line)
    best = PiecewiseFit(line_fit, np.full(rows, -1), line_coef[:, 1].copy())
    if not breaks:
        return best
    line_sse = ((series - line_fit) ** 2).sum(axis=1)
    best_sse = np.full(rows, np.inf)
    best_fit = line_fit.copy()
    best_break = np.full(rows, -1)
    best_slope = line_coef[:, 1].copy()
    for offset, design in enumerate(breaks):
        coefficients, fitted = _fit(series, design)
        sse = ((series - fitted) ** 2).sum(axis=1)
        better = sse < best_sse
        best_sse = np.where(better, sse, best_sse)
        best_fit[better] = fitted[better]
        best_break[better] = MIN_SEGMENT + offset
        best_slope[better] = coefficients[better, 1] + coefficients[better, 2]
    keep_break = _bic(best_sse, length, 4) < _bic(line_sse, length, 2)
    best.fitted[keep_break] = best_fit[keep_break]
    best.break_index[keep_break] = best_break[keep_break]
    best.final_slope[keep_break] = best_slope[keep_break]
    return best


def _bic(sse: np.ndarray, n: int, parameters: int) -> np.ndarray:
    # A perfect fit (sse 0) must not give −inf for both models: floor it.
    return n * np.log(np.maximum(sse, 1e-12) / n) + parameters * np.log(n)

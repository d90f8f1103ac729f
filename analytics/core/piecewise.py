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
import numpy.typing as npt

MIN_SEGMENT = 3  # months on each side of a break


@dataclass
class PiecewiseFit:
    fitted: np.ndarray  # rows × months
    break_index: np.ndarray  # int, −1 where the straight line won
    final_slope: np.ndarray  # slope of the last segment, per month


@lru_cache(maxsize=64)
def _designs(length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate's design (the line, then each break), and two stacked matrices
    that give all candidates' Xᵀy and coefficients with one BLAS product each."""
    t = np.arange(length, dtype=float)
    candidates = [np.column_stack([np.ones(length), t, np.zeros(length)])]
    candidates += [
        np.column_stack([np.ones(length), t, np.maximum(0.0, t - b)])
        for b in range(MIN_SEGMENT, length - MIN_SEGMENT)
    ]
    designs = np.stack(candidates)  # models × months × 3
    projections = np.stack([np.linalg.pinv(design) for design in designs])  # models × 3 × months
    stacked_designs = np.ascontiguousarray(designs.transpose(1, 0, 2).reshape(length, -1))
    stacked_projections = np.ascontiguousarray(projections.transpose(2, 0, 1).reshape(length, -1))
    return designs, stacked_designs, stacked_projections


def fit_piecewise(series: np.ndarray) -> PiecewiseFit:
    """Least squares for every candidate at once; the residual sum of squares is
    yᵀy − βᵀXᵀy, so no fitted series is formed but the chosen one."""
    rows, length = series.shape
    designs, stacked_designs, stacked_projections = _designs(length)
    models = len(designs)
    xty = series @ stacked_designs  # rows × (models · 3)
    coefficients = series @ stacked_projections
    explained = (coefficients * xty).reshape(rows, models, 3).sum(axis=2)
    total = (series**2).sum(axis=1)[:, None]
    # yᵀy − βᵀXᵀy cancels: below a 1e-10 share of yᵀy it is rounding, not misfit.
    sse = np.maximum(total - explained, 1e-10 * total)  # rows × models
    index = np.arange(rows)
    best = np.argmin(sse[:, 1:], axis=1) + 1 if models > 1 else np.zeros(rows, dtype=int)
    line_sse, break_sse = sse[:, 0], sse[index, best]
    use_break = (models > 1) & (_bic(break_sse, length, 4) < _bic(line_sse, length, 2))
    chosen = np.where(use_break, best, 0)
    beta = coefficients.reshape(rows, models, 3)[index, chosen]  # rows × 3
    fitted = np.einsum("nmi,ni->nm", designs[chosen], beta)
    break_index = np.where(use_break, chosen - 1 + MIN_SEGMENT, -1)
    final_slope = beta[:, 1] + np.where(use_break, beta[:, 2], 0.0)
    return PiecewiseFit(fitted, break_index, final_slope)


def _bic(sse: np.ndarray, n: int, parameters: int) -> np.ndarray:
    # An all-zero series has sse 0 for both models: floor it so neither is −inf.
    bic: npt.NDArray[np.float64] = n * np.log(np.maximum(sse, 1e-300) / n) + parameters * np.log(n)
    return bic


def fit_at_breaks(series: np.ndarray, break_index: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The least-squares fit with each row's break given (−1: a straight line), at
    ``columns`` only: one projection per row instead of every candidate's."""
    rows, length = series.shape
    designs, _, stacked_projections = _designs(length)
    projections = stacked_projections.reshape(length, len(designs), 3).transpose(1, 2, 0)
    chosen = np.where(break_index >= 0, break_index - MIN_SEGMENT + 1, 0)
    out = np.empty((rows, len(columns)))
    for model in np.unique(chosen):
        members = chosen == model
        beta = series[members] @ projections[model].T  # rows × 3
        out[members] = beta @ designs[model][columns].T
    return out

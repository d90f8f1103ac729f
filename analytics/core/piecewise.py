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
def _designs(length: int) -> tuple[np.ndarray, ...]:
    """The line's and every break's design matrix with its (XᵀX)⁻¹, stacked."""
    t = np.arange(length, dtype=float)
    candidates = [np.column_stack([np.ones(length), t, np.zeros(length)])]
    candidates += [
        np.column_stack([np.ones(length), t, np.maximum(0.0, t - b)])
        for b in range(MIN_SEGMENT, length - MIN_SEGMENT)
    ]
    designs = np.stack(candidates)  # models × months × 3
    inverses = np.linalg.pinv(np.einsum("kmi,kmj->kij", designs, designs))
    return designs, inverses


def fit_piecewise(series: np.ndarray) -> PiecewiseFit:
    """Least squares for every candidate at once: XᵀY, coefficients, and the residual sum
    of squares as yᵀy − βᵀXᵀy, without forming any fitted series but the chosen one."""
    rows, length = series.shape
    designs, inverses = _designs(length)
    models = len(designs)
    # One BLAS product for every model's Xᵀy: months × (models · 3) columns.
    stacked = designs.transpose(1, 0, 2).reshape(length, models * 3)
    xty = (series @ stacked).reshape(rows, models, 3).transpose(1, 0, 2)  # models × rows × 3
    coefficients = np.matmul(xty, inverses.transpose(0, 2, 1))  # (XᵀX)⁻¹ is symmetric
    sse = (series**2).sum(axis=1)[None, :] - (coefficients * xty).sum(axis=2)
    sse = np.maximum(sse, 0.0)
    best = np.argmin(sse[1:], axis=0) + 1 if len(designs) > 1 else np.zeros(rows, dtype=int)
    line_sse, break_sse = sse[0], sse[best, np.arange(rows)]
    use_break = (len(designs) > 1) & (_bic(break_sse, length, 4) < _bic(line_sse, length, 2))
    chosen = np.where(use_break, best, 0)
    beta = coefficients[chosen, np.arange(rows)]  # rows × 3
    fitted = np.einsum("nmi,ni->nm", designs[chosen], beta)
    break_index = np.where(use_break, chosen - 1 + MIN_SEGMENT, -1)
    final_slope = beta[:, 1] + np.where(use_break, beta[:, 2], 0.0)
    return PiecewiseFit(fitted, break_index, final_slope)


def _bic(sse: np.ndarray, n: int, parameters: int) -> np.ndarray:
    # A perfect fit (sse 0) must not give −inf for both models: floor it.
    return n * np.log(np.maximum(sse, 1e-12) / n) + parameters * np.log(n)

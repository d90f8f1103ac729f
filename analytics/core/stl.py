"""STL on many customers at once.

Non-robust STL is linear in the series: every LOESS pass uses the same kernel for every
series of a given length, so the whole decomposition is two fixed matrices, one giving
the trend and one the seasonal component. They are built once per length by running
statsmodels' own STL on the basis vectors, so the batched result equals statsmodels'
to rounding, and a portfolio is decomposed with two matrix products.

Why not robust STL: on 24–36 months each seasonal sub-series has 2–3 points, the
robustness weights can collapse, and the trend jumps with tiny input changes. Spikes
are handled by the anomaly step instead (see ``core.analyze``): flagged months are
replaced by their expected order before the decomposition.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PERIOD = 12
# A periodic seasonal pattern (Cleveland's s.window = "periodic"): with 2–3 values per
# calendar month, a pattern that changes from year to year cannot be told from noise, so
# each month's effect is a local mean over all its years (degree 0, a window wider than
# the series).
SEASONAL_SMOOTHER = 999
SEASONAL_DEGREE = 0
# statsmodels runs 2 inner passes by default; on 36 months they leave up to 33 a month of a
# −25 a month straight line in the seasonal term. 20 passes converge (leak < 1e-8), and
# cost nothing here: the passes are folded into the precomputed matrices.
INNER_PASSES = 20
MIN_STL_MONTHS = 2 * PERIOD


@lru_cache(maxsize=64)
def stl_operators(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(trend, seasonal) matrices M with component = M @ series, for series of ``length``."""
    from statsmodels.tsa.seasonal import STL

    trend = np.empty((length, length))
    seasonal = np.empty((length, length))
    for column in range(length):
        basis = np.zeros(length)
        basis[column] = 1.0
        fit = STL(
            basis,
            period=PERIOD,
            seasonal=SEASONAL_SMOOTHER,
            seasonal_deg=SEASONAL_DEGREE,
            robust=False,
        ).fit(inner_iter=INNER_PASSES)
        trend[:, column] = fit.trend
        seasonal[:, column] = fit.seasonal
    trend.setflags(write=False)
    seasonal.setflags(write=False)
    return trend, seasonal


def batch_stl(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trend and seasonal components of each row (rows of equal length, no NaN)."""
    length = series.shape[1]
    both = series @ _stacked_operators(length)  # one product for both components
    return both[:, :length], both[:, length:]


@lru_cache(maxsize=64)
def _stacked_operators(length: int) -> np.ndarray:
    trend, seasonal = stl_operators(length)
    stacked = np.ascontiguousarray(np.hstack([trend.T, seasonal.T]))
    stacked.setflags(write=False)
    return stacked

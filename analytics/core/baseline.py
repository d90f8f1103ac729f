"""The prototype's ("seed") rule, kept only as the baseline the detection benchmark beats.

docs/method.md §14: an ordinary least-squares line through the raw monthly revenue of
each customer with at least 6 active months; the decline level comes from the line's *absolute*
slope ``s`` in currency per month:

    s >= 50 -> 0,   10 <= s < 50 -> 1,   -10 <= s < 10 -> 2,   s < -10 -> 3.

Months where the customer flagged a residual beyond 1.5 standard deviations of the OLS residual
were its "anomalies".

Input is the method's matrix (customers x consecutive months): NaN before a customer's first
month, 0 for months inside the span without revenue. The line is fitted over the span (zeros
included, leading NaNs ignored); an *active* month is one with revenue > 0.

Customers with fewer than 6 active months get no level: ``NO_LEVEL`` (-1) in the int array, and
no anomaly flags. Pure numpy, vectorised over customers; no Django import.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

NO_LEVEL = -1
MIN_ACTIVE_MONTHS = 6
# Lower slope bounds of levels 0, 1 and 2 (currency per month); below the last one is level 3.
SLOPE_EDGES: tuple[float, float, float] = (50.0, 10.0, -10.0)
ANOMALY_SIGMAS = 1.5
# The prototype took the residual's standard deviation as pandas does by default (n - 1).
RESIDUAL_DDOF = 1


def ols_lines(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept (at month index 0) of each row's OLS line over its non-NaN months.

    Rows with fewer than two months get NaN."""
    values = np.asarray(matrix, dtype=float)
    observed = ~np.isnan(values)
    months = np.arange(values.shape[1], dtype=float)[None, :]
    count = observed.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x = np.where(observed, months, 0.0).sum(axis=1) / count
        mean_y = np.where(observed, values, 0.0).sum(axis=1) / count
        dx = np.where(observed, months - mean_x[:, None], 0.0)
        dy = np.where(observed, values - mean_y[:, None], 0.0)
        slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
    slope = np.where(count >= 2, slope, np.nan)
    return slope, mean_y - slope * mean_x


def active_month_counts(matrix: np.ndarray) -> np.ndarray:
    counts: npt.NDArray[np.intp] = (
        np.nan_to_num(np.asarray(matrix, dtype=float), nan=0.0) > 0
    ).sum(axis=1)
    return counts


def level_for_slope(slope: np.ndarray) -> np.ndarray:
    """The seed's level for an absolute slope (currency per month); NaN slopes get NO_LEVEL."""
    slope = np.asarray(slope, dtype=float)
    # Levels rise as the slope falls: count the edges the slope is below.
    below = (slope[:, None] < np.asarray(SLOPE_EDGES)[None, :]).sum(axis=1)
    return np.where(np.isnan(slope), NO_LEVEL, below).astype(np.int64)


def seed_rule_levels(matrix: np.ndarray) -> np.ndarray:
    """Decline level 0-3 per row by the seed's rule; NO_LEVEL (-1) below 6 active months."""
    slope, _ = ols_lines(matrix)
    judged = active_month_counts(matrix) >= MIN_ACTIVE_MONTHS
    return np.where(judged, level_for_slope(slope), NO_LEVEL).astype(np.int64)


def seed_rule_anomalies(matrix: np.ndarray) -> np.ndarray:
    """Bool mask (same shape as ``matrix``) of months whose OLS residual exceeds 1.5 sigma.

    Only customers the rule judges (>= 6 active months) are flagged; NaN months never are."""
    values = np.asarray(matrix, dtype=float)
    slope, intercept = ols_lines(values)
    months = np.arange(values.shape[1], dtype=float)[None, :]
    residual = values - (intercept[:, None] + slope[:, None] * months)
    judged = active_month_counts(values) >= MIN_ACTIVE_MONTHS
    if not judged.any():
        return np.zeros(values.shape, dtype=bool)
    sigma = np.full(len(values), np.nan)
    sigma[judged] = np.nanstd(residual[judged], axis=1, ddof=RESIDUAL_DDOF)
    # A line that fits exactly leaves only rounding in the residual: nothing to flag there.
    scale = np.abs(np.nan_to_num(values, nan=0.0)).max(axis=1)
    judged &= sigma > 1e-9 * np.maximum(scale, 1.0)
    with np.errstate(invalid="ignore"):
        flagged = np.abs(residual) > ANOMALY_SIGMAS * sigma[:, None]
    anomalous: npt.NDArray[np.bool_] = flagged & judged[:, None] & ~np.isnan(values)
    return anomalous

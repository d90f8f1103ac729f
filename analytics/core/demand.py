"""The monthly demand behind lumpy orders.

A customer who orders every few months pays in one month for the months before it: its
monthly revenue (0, 0, 3,000, 0, 0, 3,000 …) swings between nothing and a triple month
while what it buys stays level. Spreading each order evenly over the month it falls in and
the empty months right before it (the months it carries, as the anomaly step counts them)
recovers that level: 1,000 a month. The months after the last order are still open (their
demand arrives with the next order), so they keep the last order's monthly rate instead of
counting as zero: a buyer two months into its usual three-month gap is not collapsing. A
run of empty months too long for the customer's habits is churn (judged on the observed
months by the caller): a churned customer's empty tail stays empty.

Months with net refunds (negative) stay as they are and end a run of empty months. The
first order of a span is taken to carry the customer's typical gap (its earlier months are
outside the window). Totals are preserved except for the first order and the open months at
the end. Pure numpy, row by row independent.
"""

from __future__ import annotations

import numpy as np

from .anomalies import HALF_CENT, typical_gap
from .trend import previous_index


def spread_orders(series: np.ndarray, churned: np.ndarray | None = None) -> np.ndarray:
    """``series``: rows × months of one span length (no NaN); returns the same shape.
    ``churned`` rows (bool per row) have no open months: their empty tail stays empty."""
    length = series.shape[1]
    if length == 0:
        return series.copy()
    columns = np.arange(length)[None, :]
    nonzero = np.abs(series) >= HALF_CENT
    ordered = series >= HALF_CENT
    before = previous_index(nonzero)  # the latest non-empty month before each month
    # The first order of a span may carry months from before it: it is taken to carry the
    # customer's typical gap (empty months per order), as the anomaly step does.
    carried = (columns - before).astype(float)
    first = ordered & (before < 0)
    carried = np.where(first, 1.0 + typical_gap(series)[:, None], carried)
    rate = np.where(ordered, series / carried, series)
    # An empty month takes the monthly rate of the next non-empty month, when that is an order.
    following = np.minimum.accumulate(np.where(nonzero, columns, length)[:, ::-1], axis=1)[:, ::-1]
    has_following = following < length
    following = np.minimum(following, length - 1)
    takes_next = has_following & np.take_along_axis(ordered, following, axis=1)
    spread = np.where(
        nonzero, rate, np.where(takes_next, np.take_along_axis(rate, following, axis=1), 0.0)
    )
    # Open months after the last order keep its monthly rate.
    last = np.where(nonzero[:, -1], length - 1, before[:, -1])  # the last non-empty month
    last_rate = np.take_along_axis(rate, np.maximum(last, 0)[:, None], axis=1)
    open_months = (columns > last[:, None]) & (last[:, None] >= 0)
    if churned is not None:
        open_months &= ~churned[:, None]
    return np.where(open_months, np.maximum(last_rate, 0.0), spread)

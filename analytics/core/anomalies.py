"""One-off spikes: months that bring far more than the customer's own expected order.

A month is judged against the customer's *local order rate*: the median, over the orders in
the surrounding two years (the month itself left out), of each order's value per month of
demand it carries (an order after k empty months carries k + 1 months). The median ignores
other spikes and follows a lost contract's step without smearing it, which a trend fitted
through the spikes does not: a large spike drags a fitted trend (and, with three years of
data, a periodic seasonal term) towards itself and hides. The expected order of a month is
that rate times the months it carries; the first month of a span carries the customer's
typical gap, since what came before the window is unknown.

The month's log ratio to its expected order is z-scored against the customer's own ratios
(a volatile customer needs a bigger month than a steady one): around their median, on the
smaller of two robust spreads, the MAD and Rousseeuw and Croux's Qn. Both ignore up to half
the months, so spikes cannot inflate them, but each overstates the spread of some shapes of
ordinary months that the other reads well (the MAD a flat or two-humped spread of order
sizes, which autocorrelated demand and carried months produce; Qn a tight core with a
few far months); on the detection benchmark (``benchmarks/detection.py``) the smaller of
the two kept the MAD's recall with Qn's steadiness across seeds. A month is an anomaly when
z ≥ ``anomaly_z`` and the month is at least ``MIN_ANOMALY_RATIO`` times its
expected order. Only months above expectation are anomalies: a low month is lumpiness (its
demand comes with the next order) or a refund, and a lasting drop is what the decline level
and churn measure; judging low months too only added flags that matched no injected event on
the detection benchmark.

Pure numpy; rows are independent, so any split of the rows gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtri

from .trend import previous_index

HALF_CENT = 0.005  # less than half a cent in a month is no revenue
LEVEL_HALF_WINDOW = 12  # months either side whose orders set a month's local rate
MIN_NEIGHBOURS = 2  # orders in the window (the month left out) needed to judge a month
MIN_ANOMALY_RATIO = 3.0  # an anomaly brings at least three times its expected order
MIN_LOG_SCALE = 0.05  # smallest spread of log order ratios (about ±5 %)
ROW_BLOCK = 2048  # rows per block of the sliding median and of Qn (bounds memory)
QN_CONSTANT = 1.0 / (np.sqrt(2.0) * ndtri(5.0 / 8.0))  # Qn's consistency factor, 2.2191


@dataclass
class Spikes:
    flagged: np.ndarray  # bool, rows × months
    # Robust z of each month's log ratio to its expected order (0: not judged); on the MAD
    # alone in rows without a month big enough to be an anomaly.
    zscore: np.ndarray
    expected: np.ndarray  # the month's expected order (NaN where it could not be judged)


def find_spikes(series: np.ndarray, analysed: np.ndarray, anomaly_z: float) -> Spikes:
    """``series``: rows × months of one span length (column 0 = each span's first month);
    ``analysed``: rows that may have anomalies (not insufficient data)."""
    carried = months_empty_before(series)
    carried[:, 0] = typical_gap(series)
    ordered = series >= HALF_CENT
    rate = np.where(ordered, series / (1.0 + carried), np.nan)
    level = np.full(rate.shape, np.nan)
    for start in range(0, len(rate), ROW_BLOCK):
        level[start : start + ROW_BLOCK] = _local_median(rate[start : start + ROW_BLOCK])
    expected = level * (1.0 + carried)
    judged = ordered & (expected >= HALF_CENT)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(judged, np.log(series / np.where(judged, expected, 1.0)), 0.0)
    centre = masked_row_median(ratio, judged)[:, None]
    mad = 1.4826 * masked_row_median(np.abs(ratio - centre), judged)
    # Qn only where a month is big enough to be an anomaly at all (most rows have none).
    candidates = np.flatnonzero((judged & (ratio >= np.log(MIN_ANOMALY_RATIO))).any(axis=1))
    qn = np.full(len(ratio), np.inf)
    for start in range(0, len(candidates), ROW_BLOCK):
        rows = candidates[start : start + ROW_BLOCK]
        qn[rows] = masked_qn(ratio[rows], judged[rows])
    scale = np.minimum(mad, qn)[:, None]
    zscore = np.where(judged, (ratio - centre) / np.maximum(scale, MIN_LOG_SCALE), 0.0)
    flagged = (
        judged & analysed[:, None] & (zscore >= anomaly_z) & (ratio >= np.log(MIN_ANOMALY_RATIO))
    )
    return Spikes(flagged, zscore, np.where(judged, expected, np.nan))


def _local_median(rate: np.ndarray, half: int = LEVEL_HALF_WINDOW) -> np.ndarray:
    """Median of each month's neighbours within ``half`` months (the month itself left out)
    among the non-NaN cells; NaN with fewer than ``MIN_NEIGHBOURS`` of them. By sorting:
    missing cells become +inf and sort last."""
    present = ~np.isnan(rate)
    padded = np.pad(np.where(present, rate, np.inf), ((0, 0), (half, half)), constant_values=np.inf)
    windows = np.array(sliding_window_view(padded, 2 * half + 1, axis=1))
    windows[:, :, half] = np.inf
    windows.sort(axis=2)
    # Neighbours present in each window: a running sum, less the month itself.
    running = np.pad(np.cumsum(present, axis=1), ((0, 0), (1, 0)))
    width = rate.shape[1]
    upper = np.minimum(np.arange(width) + half + 1, width)
    lower = np.maximum(np.arange(width) - half, 0)
    count = running[:, upper] - running[:, lower] - present
    rows, months = np.indices(count.shape)
    low = windows[rows, months, np.maximum(count - 1, 0) // 2]
    high = windows[rows, months, count // 2]
    with np.errstate(invalid="ignore"):
        return np.where(count >= MIN_NEIGHBOURS, (low + high) / 2.0, np.nan)


def typical_gap(series: np.ndarray) -> np.ndarray:
    """Empty months per order over the span: what the first order is taken to carry."""
    ordered = (series >= HALF_CENT).sum(axis=1)
    gap: npt.NDArray[np.float64] = (series < HALF_CENT).sum(axis=1) / np.maximum(ordered, 1)
    return gap


def months_empty_before(series: np.ndarray) -> np.ndarray:
    """For each month, how many empty months come right before it."""
    columns = np.arange(series.shape[1])[None, :]
    empty: npt.NDArray[np.float64] = (columns - previous_index(series >= HALF_CENT) - 1).astype(
        float
    )
    return empty


def masked_row_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row's masked cells (0 for a row without any), by sorting: masked-out
    cells become +inf and sort last."""
    ordered = np.sort(np.where(mask, values, np.inf), axis=1)
    count = mask.sum(axis=1)
    rows = np.arange(len(values))
    low = ordered[rows, np.maximum(count - 1, 0) // 2]
    high = ordered[rows, np.maximum(count, 1) // 2 - (count == 0)]
    return np.where(count > 0, (low + high) / 2.0, 0.0)


def masked_qn(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rousseeuw and Croux's Qn scale of each row's masked cells: statsmodels' ``qn_scale``
    (the k-th smallest pairwise distance, k = C(h, 2), h = n // 2 + 1, times the normal
    consistency factor) with Croux and Rousseeuw's (1992) small-sample correction for
    n > 9, n / (n + 1.4) for odd n and n / (n + 3.8) for even n, without which Qn
    overstates the spread of the 20-36 months here by 4-16 %; +inf for fewer than 2 cells."""
    rows, width = values.shape
    out = np.full(rows, np.inf)
    if width < 2:
        return out
    i, j = np.triu_indices(width, k=1)
    gaps = np.where(mask[:, i] & mask[:, j], np.abs(values[:, j] - values[:, i]), np.inf)
    count = mask.sum(axis=1)
    half = count // 2 + 1
    rank = half * (half - 1) // 2 - 1  # 0-based
    # Rows share their rank when they have as many cells: partition each group once.
    for k in np.unique(rank[count >= 2]):
        members = np.flatnonzero((rank == k) & (count >= 2))
        out[members] = QN_CONSTANT * np.partition(gaps[members], k, axis=1)[:, k]
    n = count.astype(float)
    correction = np.where(n <= 9, 1.0, np.where(count % 2 == 1, n / (n + 1.4), n / (n + 3.8)))
    return out * correction

"""The spike detector (analytics.core.anomalies): what counts as a one-off spike and what,
by design, does not (lumpy orders, low months, a lost contract's step)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core import Params, analyze_portfolio
from analytics.core.anomalies import MIN_ANOMALY_RATIO, find_spikes

MONTHS = pd.date_range("2023-01-01", periods=36, freq="MS")
t = np.arange(36)
NOISE = 1.0 + 0.08 * np.cos(t * 2.3)  # small irregular wobble


def spikes_of(row: np.ndarray, anomaly_z: float = 3.5):
    return find_spikes(np.asarray(row, dtype=float)[None, :], np.array([True]), anomaly_z)


def flagged_months(row: np.ndarray) -> list[int]:
    return np.flatnonzero(spikes_of(row).flagged[0]).tolist()


def test_quarterly_buyers_orders_carry_the_skipped_months_and_are_not_spikes():
    row = np.where(t % 3 == 2, 3000.0, 0.0) * NOISE
    spikes = spikes_of(row)
    assert not spikes.flagged.any()
    # An order after two empty months is expected to bring three months of demand.
    assert spikes.expected[0, 5] == pytest.approx(3 * 1000.0, rel=0.1)


def test_a_spike_in_a_quarterly_buyer_between_orders_is_found():
    row = np.where(t % 3 == 2, 3000.0, 0.0) * NOISE
    row[18] = 9000.0  # the month after an order: expected one month of demand
    spikes = spikes_of(row)
    assert flagged_months(row) == [18]
    assert spikes.expected[0, 18] == pytest.approx(1000.0, rel=0.1)


def test_a_huge_spike_does_not_drag_the_trend_or_the_level():
    row = 1000.0 * NOISE
    row[30] = 200_000.0
    result = analyze_portfolio(row[None, :], MONTHS, Params())
    figures = result.figures.iloc[0]
    assert list(result.anomalies["month"]) == [MONTHS[30]]
    assert figures["decline_level"] == 0
    assert abs(figures["relative_change_12m"]) < 0.05
    trend = result.components["trend"][0]
    assert np.nanmax(np.abs(trend / 1000.0 - 1)) < 0.1


def test_low_months_are_never_anomalies():
    row = 1000.0 * NOISE
    row[[7, 20]] = [50.0, 1.0]  # a token order and almost nothing
    row[28] = -400.0  # a refund larger than the month's sales
    assert flagged_months(row) == []


def test_the_first_month_of_a_span_may_carry_earlier_demand():
    # A customer whose first month in the window brings a quarter's worth, then orders
    # every third month: not a spike.
    row = np.where(t % 3 == 0, 3000.0, 0.0) * NOISE
    row[0] = 3300.0
    assert flagged_months(row) == []


def test_a_step_down_is_a_decline_not_a_run_of_anomalies():
    row = np.where(t < 24, 4000.0, 1000.0) * NOISE
    result = analyze_portfolio(row[None, :], MONTHS, Params())
    assert result.anomalies.empty
    assert result.figures.iloc[0]["decline_level"] == 3


def test_a_month_needs_both_the_z_score_and_the_ratio():
    steady = 1000.0 * NOISE
    steady[12] = 1000.0 * (MIN_ANOMALY_RATIO - 0.5)  # far outside a steady customer's spread
    spikes = spikes_of(steady)
    assert spikes.zscore[0, 12] > 3.5 and not spikes.flagged[0, 12]
    steady[12] = 1000.0 * (MIN_ANOMALY_RATIO + 0.5)
    assert flagged_months(steady) == [12]


def test_a_volatile_customer_needs_a_bigger_month_than_a_steady_one():
    rng = np.random.default_rng(3)
    volatile = 1000.0 * rng.lognormal(0.0, 0.8, 36)
    volatile[12] = 4.0 * np.median(volatile)
    steady = 1000.0 * NOISE
    steady[12] = 4000.0
    assert flagged_months(steady) == [12]
    assert 12 not in flagged_months(volatile)


def test_the_threshold_is_the_anomaly_z_parameter():
    row = 1000.0 * np.random.default_rng(5).lognormal(0.0, 0.3, 36)
    row[12] = 3200.0
    z = spikes_of(row).zscore[0, 12]
    assert spikes_of(row, anomaly_z=z - 0.01).flagged[0, 12]
    assert not spikes_of(row, anomaly_z=z + 0.01).flagged[0, 12]


def test_rows_are_independent_of_their_neighbours():
    rng = np.random.default_rng(11)
    block = rng.lognormal(7.0, 0.5, (40, 36))
    block[rng.random(block.shape) < 0.2] = 0.0
    block[3, 9:12] = [1100.0, 30_000.0, 1100.0]
    together = find_spikes(block, np.ones(40, dtype=bool), 3.5)
    for row in (0, 3, 39):
        alone = find_spikes(block[row : row + 1], np.array([True]), 3.5)
        np.testing.assert_array_equal(alone.flagged[0], together.flagged[row])
        np.testing.assert_array_equal(alone.zscore[0], together.zscore[row])
    assert together.flagged[3, 10]


def test_masked_qn_is_statsmodels_qn_with_the_small_sample_correction():
    from statsmodels.robust.scale import qn_scale

    from analytics.core.anomalies import masked_qn

    rng = np.random.default_rng(12)
    values = rng.normal(0.0, 1.0, (60, 36))
    mask = rng.random(values.shape) < rng.uniform(0.2, 1.0, (60, 1))
    mask[0] = True
    mask[1] = False
    mask[1, :1] = True  # one cell: no spread
    qn = masked_qn(values, mask)
    for row in range(60):
        kept = values[row][mask[row]]
        n = len(kept)
        if n < 2:
            assert qn[row] == np.inf
            continue
        correction = 1.0 if n <= 9 else (n / (n + 1.4) if n % 2 else n / (n + 3.8))
        assert qn[row] == pytest.approx(qn_scale(kept) * correction, rel=1e-12)

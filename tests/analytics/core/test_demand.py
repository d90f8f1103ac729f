"""Spreading lumpy orders over the months they carry (analytics.core.demand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core import Params, analyze_portfolio
from analytics.core.demand import spread_orders

MONTHS = pd.date_range("2023-01-01", periods=36, freq="MS")
t = np.arange(36)


def spread(*values: float) -> list[float]:
    return spread_orders(np.array([values], dtype=float))[0].tolist()


def test_an_order_covers_itself_and_the_empty_months_before_it():
    assert spread(100, 0, 0, 300, 0, 200)[1:] == [100, 100, 100, 100, 100]


def test_the_first_order_carries_the_typical_gap():
    # Three empty months for three orders: one empty month per order, so the first order
    # (its earlier months outside the window) is taken to cover two months.
    assert spread(100, 0, 0, 300, 0, 200)[0] == 50
    assert spread(100, 100, 100)[0] == 100  # a monthly buyer's first month is one month


def test_totals_are_kept_after_the_first_order_and_up_to_the_last():
    rng = np.random.default_rng(4)
    rows = rng.lognormal(6.0, 0.8, (50, 36)) * (rng.random((50, 36)) < 0.5)
    rows[:, 0] = rows[:, -1] = rng.lognormal(6.0, 0.8, 50)  # orders at both ends
    spread_rows = spread_orders(rows)
    np.testing.assert_allclose(spread_rows[:, 1:].sum(axis=1), rows[:, 1:].sum(axis=1))


def test_open_months_after_the_last_order_keep_its_monthly_rate():
    assert spread(300, 0, 0, 300, 0, 0) == [100, 100, 100, 100, 100, 100]


def test_refund_months_stay_and_break_a_run_of_empty_months():
    assert spread(0, -50, 0, 200) == [0, -50, 100, 100]


def test_a_row_without_orders_stays_empty():
    assert spread(0, 0, 0) == [0, 0, 0]
    assert spread(0, -20, 0) == [0, -20, 0]


def test_a_quarterly_buyer_between_orders_is_level_not_declining():
    noise = 1.0 + 0.05 * np.cos(t * 2.3)
    row = np.where(t % 3 == 0, 3000.0, 0.0) * noise  # last order two months before the end
    result = analyze_portfolio(row[None, :], MONTHS, Params())
    figures = result.figures.iloc[0]
    assert figures["decline_level"] == 0 and not figures["churned"]
    assert figures["relative_change_12m"] == pytest.approx(0.0, abs=0.1)
    underlying = result.components["underlying"][0]
    assert np.all(np.abs(underlying / 1000.0 - 1) < 0.1)


def test_a_quarterly_buyer_whose_orders_fall_by_40_percent_is_declining():
    # Judged on its orders: on its months (two in three empty) a rank test cannot see it.
    row = np.where(t % 3 == 2, np.where(t < 24, 3000.0, 1800.0), 0.0)
    row *= 1.0 + 0.03 * np.cos(t * 2.3)
    figures = analyze_portfolio(row[None, :], MONTHS, Params()).figures.iloc[0]
    assert figures["decline_level"] == 2 and figures["p_value"] < 0.01
    assert figures["relative_change_12m"] == pytest.approx(-0.4, abs=0.1)


def test_a_churned_customer_keeps_its_empty_tail_and_its_level_stops_at_zero():
    row = 1500.0 * (1.0 + 0.05 * np.cos(t * 2.3))
    row[-6:] = 0.0
    result = analyze_portfolio(row[None, :], MONTHS, Params())
    figures = result.figures.iloc[0]
    assert figures["churned"] and figures["decline_level"] == 3
    assert figures["relative_change_12m"] == -1.0
    underlying = result.components["underlying"][0]
    assert underlying.min() == 0.0 and underlying[-1] == 0.0
    assert underlying[:24] == pytest.approx(1500.0, rel=0.1)

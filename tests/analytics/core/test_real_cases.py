"""The cases seen in backtests on real transaction logs (issue 9), as unit tests of the core.

Each is one customer's monthly revenue, oldest first, ending at the analysis window's end.
The purchase process is fitted with parameters close to the CDNOW retailer's monthly
activity, as a real portfolio would give it (a handful of customers cannot fit it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core import Params, analyze_portfolio

REAL_LIKE = Params(purchase_model=(0.59, 3.37, 0.42, 2.78))


def analysed(revenue: list[float], params: Params = REAL_LIKE) -> pd.Series:
    months = pd.date_range("2024-01-01", periods=len(revenue), freq="MS")
    return analyze_portfolio(np.array([revenue], dtype=float), months, params).figures.iloc[0]


def test_a_collapse_after_a_peak_is_a_sharp_decline_with_money_at_risk():
    figures = analysed([3290, 2824, 3295, 3606, 11278, 7663, 3796, 2224, 1460, 263, 0, 0])
    assert figures["decline_level"] == 3
    assert figures["relative_change_12m"] < -0.5
    assert figures["revenue_at_risk"] > 0.5 * sum([3290, 2824, 3295, 3606, 11278, 7663])


def test_a_lumpy_large_account_without_a_real_decline_is_not_declining():
    revenue = [15350, 47746, 46516, -162, 29576, 22093, 27835, 0, 10535, 6909, 1039, 18166]
    figures = analysed(revenue)
    assert figures["decline_level"] == 0
    assert figures["explanation"].startswith("No significant decline")
    assert figures["p_active"] > 0.9
    # It is expected to keep buying at most of its past year's pace: what is at risk is the
    # portfolio's pull on its buying rate (real on CDNOW), about a third of a year — the
    # trend-line forecast put 279,000 at risk on this account, which then grew 60 %.
    assert figures["expected_revenue_12m"] > 0.6 * sum(revenue)
    assert figures["revenue_at_risk"] < 0.35 * sum(revenue)
    assert "money at risk without a significant decline" in figures["explanation"]


def test_a_short_burst_then_a_pause_is_doubted_not_declared_churned():
    figures = analysed([500, 400, 450, 520] + [0] * 8)
    assert not figures["churned"]
    assert 0.02 < figures["p_active"] < 0.5
    assert figures["decline_level"] >= 1
    assert "probability" in figures["explanation"] and "Churned" not in figures["explanation"]


def test_an_occasional_buyer_inside_its_rhythm_gets_a_level_and_is_not_declining():
    # Two orders a year, the last one four months ago: judged (no longer "insufficient").
    revenue = [900, 0, 0, 0, 0, 0, 950, 0, 0, 0, 0, 0, 880, 0, 0, 0, 0, 0, 920, 0, 0, 0]
    figures = analysed(revenue)
    assert figures["decline_level"] == 0
    assert figures["p_active"] > 0.5
    assert figures["expected_revenue_12m"] > 0


def test_every_customer_with_six_months_and_a_purchase_gets_a_level():
    one_order = [0.0] * 0 + [700.0] + [0.0] * 6
    figures = analysed(one_order)
    assert not pd.isna(figures["decline_level"])
    assert not np.isnan(figures["p_active"]) and not np.isnan(figures["expected_revenue_12m"])


def test_revenue_in_every_month_always_has_a_change():
    revenue = [100, 90, 95, 80, 85, 70, 75, 60, 65, 55, 50, 45]
    figures = analysed(revenue)
    assert np.isfinite(figures["relative_change_12m"])
    assert figures["relative_change_12m"] < 0


def test_revenue_in_the_last_month_is_never_a_total_loss():
    figures = analysed([400, 380, 0, 0, 410, 0, 390, 0, 0, 370, 0, 395])
    assert figures["relative_change_12m"] > -1.0


def test_a_constant_share_decline_reads_its_true_change():
    revenue = [1000 * 0.97**i for i in range(36)]  # loses 3 % a month: 0.97¹² − 1 = −30.6 %
    figures = analysed(revenue)
    assert figures["relative_change_12m"] == pytest.approx(0.97**12 - 1, abs=0.005)
    assert figures["decline_level"] == 2  # moderate, not overstated into "sharp"


def test_a_stable_customer_has_no_p_value_of_exactly_one_from_a_degenerate_test():
    figures = analysed([250.0] * 24)
    assert figures["decline_level"] == 0
    assert np.isnan(figures["p_value"])  # all months tie: no test, not a made-up p = 1
    assert "no trend test" in figures["explanation"]

"""Exact small cases for every figure of docs/method.md (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core import Params, analyze_portfolio

MONTHS = pd.date_range("2023-01-01", periods=36, freq="MS")
t = np.arange(36)


def run(*rows: np.ndarray, params: Params | None = None):
    matrix = np.vstack([np.asarray(r, dtype=float) for r in rows])
    return analyze_portfolio(matrix, MONTHS[-matrix.shape[1] :], params or Params())


def one(row: np.ndarray, **kwargs) -> pd.Series:
    return run(row, **kwargs).figures.iloc[0]


def seasonal_pattern(amplitude: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * t / 12)


def test_flat_series_is_level_0_with_no_slope_and_no_risk():
    figures = one(np.full(36, 1000.0))
    assert figures["decline_level"] == 0
    # All months tie: no trend test can be made, and none is pretended (no p of exactly 1).
    assert figures["slope"] == 0 and np.isnan(figures["p_value"])
    assert figures["relative_change_12m"] == pytest.approx(0.0, abs=1e-9)
    assert figures["revenue_at_risk"] == 0 and figures["anomaly_count"] == 0
    assert figures["cv"] == 0 and figures["active_months"] == 36 and figures["n_months"] == 36
    assert pd.isna(figures["onset_month"]) and not figures["churned"]
    assert figures["explanation"].startswith("No significant decline")


def test_clean_linear_decline_of_30_percent_a_year_is_level_2():
    revenue = 1575.0 - 25.0 * t  # 1000 twelve months before the end, 700 at the end
    figures = one(revenue)
    # The change is read on the multiplicative scale (a log-linear fit): a straight fall of
    # 30 % reads within 1.5 points of it, as a constant-share fall reads exactly (below).
    assert figures["relative_change_12m"] == pytest.approx(-0.30, abs=0.015)
    assert figures["slope"] == pytest.approx(-25.0)
    assert figures["slope_low"] == pytest.approx(-25.0)
    assert figures["slope_high"] == pytest.approx(-25.0)
    assert figures["p_value"] < 1e-6
    assert figures["decline_level"] == 2
    assert figures["onset_month"] == MONTHS[23]  # no break: the 12-month comparison's start


def test_decline_of_30_percent_over_the_last_year_is_level_2_with_its_onset():
    revenue = np.where(t < 24, 1000.0, 1000.0 - 300.0 * (t - 23) / 12)
    figures = one(revenue)
    assert figures["decline_level"] == 2
    assert figures["relative_change_12m"] == pytest.approx(-0.3, abs=0.01)
    assert figures["onset_month"] == MONTHS[23]
    # At risk: the last 12 months' revenue (12 × 850) less what the next 12 are expected to
    # bring; the level fell to 700 and is still falling, so less than 12 × 700 is expected.
    assert 0 < figures["expected_revenue_12m"] < 12 * 700
    assert figures["revenue_at_risk"] == pytest.approx(
        12 * revenue[-12:].mean() - figures["expected_revenue_12m"]
    )
    assert figures["revenue_at_risk"] > 12 * 850 - 12 * 700
    assert "onset 2024-12" in figures["explanation"]


def test_seasonal_series_without_trend_is_level_0_and_strongly_seasonal():
    figures = one(1000.0 + seasonal_pattern(400.0))
    assert figures["decline_level"] == 0
    assert figures["seasonal_strength"] > 0.99
    assert figures["anomaly_count"] == 0


def test_intermittent_quarterly_buyer_is_not_churned_or_declining():
    revenue = np.where(t % 3 == 0, 3000.0, 0.0)
    revenue[-2:] = 0.0  # last order 3 months before the end: normal for this customer
    figures = one(revenue)
    assert not figures["churned"]
    assert figures["decline_level"] == 0
    assert figures["active_months"] == 12


def test_monthly_buyer_that_stops_for_three_months_has_churned():
    revenue = np.full(36, 800.0)
    revenue[-3:] = 0.0
    figures = one(revenue)
    assert figures["churned"] and figures["decline_level"] == 3
    assert figures["onset_month"] == MONTHS[33]
    # Nothing more is expected: the whole of the last 12 months' revenue (9 × 800) is at risk.
    assert figures["p_active"] < 0.01
    assert figures["expected_revenue_12m"] < 0.01 * 12 * 800
    assert figures["revenue_at_risk"] == pytest.approx(9 * 800.0, rel=0.01)
    assert figures["explanation"].startswith("Churned: no revenue in the last 3 months")


def test_a_spike_is_one_anomaly_with_its_expected_revenue():
    revenue = 1000.0 + 50.0 * np.cos(t * 2.3)  # small irregular noise
    revenue[20] = 6000.0
    result = run(revenue)
    assert result.figures.iloc[0]["decline_level"] == 0
    anomalies = result.anomalies
    assert list(anomalies["month"]) == [MONTHS[20]]
    assert anomalies.iloc[0]["revenue"] == 6000.0
    assert anomalies.iloc[0]["expected"] == pytest.approx(1000.0, rel=0.1)
    assert anomalies.iloc[0]["zscore"] > 3.5


def test_five_month_customer_has_insufficient_data_and_no_level():
    row = np.full(36, np.nan)
    row[-5:] = 500.0
    figures = one(row)
    assert pd.isna(figures["decline_level"])
    assert figures["n_months"] == 5
    assert figures["explanation"].startswith("Insufficient data: 5 months")
    assert figures["anomaly_count"] == 0 and figures["revenue_at_risk"] == 0


def test_all_zero_customer_is_insufficient_not_stable():
    figures = one(np.zeros(36))
    assert pd.isna(figures["decline_level"]) and figures["active_months"] == 0
    assert np.isnan(figures["cv"])


def test_negative_revenue_customer_has_no_cv_and_no_crash():
    revenue = np.full(36, 200.0)
    revenue[::4] = -900.0  # refunds outweigh sales
    figures = one(revenue)
    assert figures["revenue_mean"] < 0 and np.isnan(figures["cv"])
    assert figures["decline_level"] in (0, 1, 2, 3)


def test_span_starts_at_first_month_and_months_inside_are_zero():
    row = np.full(36, np.nan)
    row[10:] = 100.0
    row[15] = 0.0
    figures = one(row)
    assert figures["n_months"] == 26 and figures["active_months"] == 25


def test_short_span_without_stl_has_no_seasonal_strength():
    row = np.full(36, np.nan)
    row[-18:] = 100.0 + t[:18]
    figures = one(row)
    assert np.isnan(figures["seasonal_strength"])
    assert figures["decline_level"] == 0


def test_figures_come_in_export_order_one_row_per_customer():
    from analytics.core import FIGURES

    result = run(np.full(36, 1.0), np.zeros(36), np.full(36, np.nan))
    assert list(result.figures.columns) == list(FIGURES)
    assert len(result.figures) == 3
    assert pd.isna(result.figures.iloc[2]["decline_level"])  # never a customer in the window


def test_months_must_match_the_matrix():
    with pytest.raises(ValueError, match="36 matrix columns but 12 months"):
        analyze_portfolio(np.zeros((1, 36)), MONTHS[:12], Params())


def test_alpha_decides_significance():
    rng = np.random.default_rng(3)
    revenue = 1000.0 - 12.0 * t + rng.normal(0, 80, 36)  # about −20 % over the last year
    strict = one(revenue, params=Params(alpha=1e-9))
    loose = one(revenue, params=Params(alpha=0.5))
    assert 1e-9 < strict["p_value"] == loose["p_value"] < 0.5
    assert strict["decline_level"] == 0
    assert loose["decline_level"] >= 1


def test_chart_series_for_a_clean_line():
    revenue = 1575.0 - 25.0 * t
    result = run(revenue)
    chart = {name: values[0] for name, values in result.components.items()}
    # the Theil–Sen line and its band cover the last 24 months; a clean line is its own fit
    assert np.isnan(chart["theil_sen"][:12]).all()
    assert np.allclose(chart["theil_sen"][12:], revenue[12:], atol=1e-6)
    assert np.allclose(chart["theil_sen_low"][12:], revenue[12:], atol=1e-6)
    assert np.allclose(chart["underlying"], revenue, atol=1e-6)
    assert np.isnan(chart["moving_average"][:2]).all()
    assert chart["moving_average"][2] == pytest.approx(revenue[:3].mean())
    assert np.allclose(chart["expected"], chart["trend"] + chart["seasonal"])


def test_chart_band_brackets_the_theil_sen_line_for_a_noisy_decline():
    rng = np.random.default_rng(5)
    revenue = 2000.0 - 20.0 * t + rng.normal(0, 150, 36)
    chart = {name: values[0] for name, values in run(revenue).components.items()}
    last = chart["theil_sen_low"][-1], chart["theil_sen"][-1], chart["theil_sen_high"][-1]
    first = chart["theil_sen_low"][12], chart["theil_sen"][12], chart["theil_sen_high"][12]
    assert last[0] < last[1] < last[2]  # lower slope ends lower after the pivot
    assert first[0] > first[1] > first[2]  # and starts higher before it


def test_insufficient_data_leaves_the_trend_figures_empty():
    row = np.full(36, np.nan)
    row[-4:] = [100.0, 900.0, 50.0, 2000.0]
    figures = one(row)
    for name in ("slope", "slope_low", "slope_high", "p_value", "relative_change_12m"):
        assert np.isnan(figures[name]), name
    assert figures["revenue_mean"] == pytest.approx(762.5) and figures["n_months"] == 4

"""The prototype's rule (the benchmark's baseline) and the benchmark's matrix builder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core.baseline import (
    NO_LEVEL,
    ols_lines,
    seed_rule_anomalies,
    seed_rule_levels,
)
from benchmarks.portfolio import monthly_matrix
from customers.demo import generate_portfolio

MONTHS = 12


def line(slope: float, start: float = 1_000.0, months: int = MONTHS) -> np.ndarray:
    return start + slope * np.arange(months, dtype=float)


def levels_of(*rows: np.ndarray) -> list[int]:
    return seed_rule_levels(np.vstack(rows)).tolist()


# --- seed_rule_levels -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slope", "level"),
    [
        *((60, 0), (50, 0), (49.9, 1), (20, 1), (10, 1)),
        *((9.9, 2), (0, 2), (-10, 2), (-10.1, 3), (-20, 3)),
    ],
)
def test_level_from_absolute_slope(slope, level):
    assert levels_of(line(slope)) == [level]


def test_absolute_slope_ignores_size():
    """The flaw the benchmark exposes: £11/month lost is level 3 at £20k and at £70 a month."""
    assert levels_of(line(-11, start=20_000), line(-11, start=200)) == [3, 3]


def test_rows_are_judged_independently():
    assert levels_of(line(60), line(20), line(0), line(-20)) == [0, 1, 2, 3]


def test_five_active_months_get_no_level():
    five = np.array([100, 0, 100, 0, 100, 0, 100, 0, 100, 0, 0, 0], dtype=float)
    six = five.copy()
    six[11] = 100
    assert levels_of(five, six) == [NO_LEVEL, 2]


def test_negative_and_zero_months_are_not_active():
    refunds = np.array([100, -50, 100, -50, 100, -50, 100, -50, 100, 0, 0, 0], dtype=float)
    assert levels_of(refunds) == [NO_LEVEL]


def test_months_before_the_first_month_are_ignored():
    late = np.concatenate([np.full(6, np.nan), line(-20, months=8)])
    slope, intercept = ols_lines(late[None, :])
    assert slope[0] == pytest.approx(-20.0)
    assert intercept[0] + 6 * slope[0] == pytest.approx(1_000.0)  # the line at its first month
    assert levels_of(late) == [3]


def test_zeros_inside_the_span_pull_the_line():
    """The raw revenue, gaps included: a buyer whose orders thin out has a falling line."""
    thinning = np.array([300, 300, 300, 300, 300, 300, 0, 300, 0, 0, 300, 0], dtype=float)
    fitted = np.polyfit(np.arange(MONTHS), thinning, 1)[0]
    assert ols_lines(thinning[None, :])[0][0] == pytest.approx(fitted)
    assert levels_of(thinning) == [3]


def test_all_nan_row_gets_no_level():
    assert levels_of(np.full(MONTHS, np.nan)) == [NO_LEVEL]


def test_ols_matches_polyfit_on_random_rows():
    rng = np.random.default_rng(3)
    matrix = rng.normal(500, 200, (40, 36))
    for row, lead in enumerate(rng.integers(0, 30, 40)):
        matrix[row, :lead] = np.nan
    slopes, intercepts = ols_lines(matrix)
    for row in range(40):
        observed = ~np.isnan(matrix[row])
        expected = np.polyfit(np.arange(36)[observed], matrix[row, observed], 1)
        assert (slopes[row], intercepts[row]) == pytest.approx(tuple(expected))


# --- seed_rule_anomalies ----------------------------------------------------------------------


def test_a_spike_is_flagged_alone():
    series = np.full(MONTHS, 1_000.0)
    series[::2] += 10.0  # a little noise, so the residual is not degenerate
    series[7] = 5_000.0
    assert np.flatnonzero(seed_rule_anomalies(series[None, :])[0]).tolist() == [7]


def test_threshold_is_one_and_a_half_residual_sigmas():
    rng = np.random.default_rng(5)
    matrix = rng.normal(1_000, 150, (30, 24)) + 15 * np.arange(24)
    for row, lead in enumerate(rng.integers(0, 12, 30)):
        matrix[row, :lead] = np.nan
    flagged = seed_rule_anomalies(matrix)
    for row in range(30):
        observed = np.flatnonzero(~np.isnan(matrix[row]))
        slope, intercept = np.polyfit(observed, matrix[row, observed], 1)
        residual = pd.Series(matrix[row, observed] - (intercept + slope * observed))
        expected = np.abs(residual) > 1.5 * residual.std()  # pandas' ddof=1, as the prototype
        assert flagged[row, observed].tolist() == expected.tolist()
        assert not flagged[row, : observed[0]].any()
    assert 0 < flagged.sum() < (~np.isnan(matrix)).sum() / 4


def test_exact_line_has_no_anomalies():
    assert not seed_rule_anomalies(np.vstack([line(-20), line(0)])).any()


def test_unjudged_customers_and_missing_months_are_never_flagged():
    short = np.array([np.nan] * 7 + [100, 100, 100, 100, 9_000], dtype=float)
    late = np.concatenate([np.full(3, np.nan), np.full(9, 100.0)])
    late[[4, 6, 8]] = [110, 90, 10_000]
    flagged = seed_rule_anomalies(np.vstack([short, late]))
    assert not flagged[0].any()
    assert not flagged[1, :3].any()
    assert flagged[1, 8]


# --- monthly_matrix ---------------------------------------------------------------------------


def transactions(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


INVOICES = transactions(
    [
        ("B", "2025-02-10", 30.0),
        ("A", "2025-01-05", 100.0),
        ("A", "2025-01-20", 50.5),
        ("A", "2025-03-01", -20.0),
        ("C", "2025-06-01", 70.0),  # after the window: not a customer yet
        ("B", "2025-05-03", 99.0),  # after the window: left out
    ]
)


def test_matrix_sums_months_and_marks_the_span():
    matrix, months, ids = monthly_matrix(INVOICES, "2025-04")
    assert ids.tolist() == ["A", "B"]
    assert months.equals(pd.date_range("2025-01-01", periods=4, freq="MS"))
    np.testing.assert_array_equal(matrix, [[150.5, 0.0, -20.0, 0.0], [np.nan, 30.0, 0.0, 0.0]])


def test_matrix_accepts_datetimes():
    with_datetimes = INVOICES.assign(date=pd.to_datetime(INVOICES["date"]))
    expected, _, _ = monthly_matrix(INVOICES, "2025-04")
    matrix, _, _ = monthly_matrix(with_datetimes, "2025-04")
    np.testing.assert_array_equal(matrix, expected)


def test_a_customer_from_before_the_window_starts_with_it():
    matrix, months, ids = monthly_matrix(INVOICES, "2025-04", start_month="2025-02")
    assert months[0] == pd.Timestamp("2025-02-01")
    assert ids.tolist() == ["A", "B"]
    np.testing.assert_array_equal(matrix, [[0.0, -20.0, 0.0], [30.0, 0.0, 0.0]])


def test_matrix_agrees_with_the_generators_truth():
    portfolio = generate_portfolio(customers=300, seed=11)
    matrix, months, ids = monthly_matrix(portfolio.transactions, "2025-12")
    truth = portfolio.truth
    assert ids.tolist() == truth["customer_id"].tolist()
    assert len(months) == 36
    first = (~np.isnan(matrix)).argmax(axis=1)
    assert months[first].strftime("%Y-%m").tolist() == truth["first_month"].tolist()
    assert (np.nan_to_num(matrix) > 0).sum(axis=1).tolist() == truth["active_months"].tolist()
    totals = portfolio.transactions.groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(np.nansum(matrix, axis=1), totals.to_numpy(), atol=1e-6)

"""The batched computations against their reference implementations, and the core's
determinism, stability and purity."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, theilslopes
from statsmodels.tsa.seasonal import STL

from analytics.core import Params, analyze_portfolio
from analytics.core.stl import INNER_PASSES, PERIOD, SEASONAL_DEGREE, SEASONAL_SMOOTHER, batch_stl
from analytics.core.trend import lag1_autocorrelation, mann_kendall, theil_sen, tie_term

CORE = Path(__file__).resolve().parents[3] / "analytics" / "core"


@pytest.mark.parametrize("length", [24, 30, 36, 48])
def test_batched_stl_equals_statsmodels_stl(length):
    rng = np.random.default_rng(length)
    series = rng.lognormal(6, 0.6, size=(25, length)) * (1 + 0.3 * np.sin(np.arange(length)))
    trend, seasonal = batch_stl(series)
    for row, values in enumerate(series):
        reference = STL(
            values,
            period=PERIOD,
            seasonal=SEASONAL_SMOOTHER,
            seasonal_deg=SEASONAL_DEGREE,
            robust=False,
        ).fit(inner_iter=INNER_PASSES)
        scale = np.abs(values).max()
        assert np.abs(trend[row] - reference.trend).max() <= 1e-10 * scale
        assert np.abs(seasonal[row] - reference.seasonal).max() <= 1e-10 * scale


@pytest.mark.parametrize("length", [2, 5, 24, 36])
def test_theil_sen_equals_scipy_theilslopes(length):
    rng = np.random.default_rng(length)
    series = np.round(rng.normal(100, 30, size=(60, length)), 0)  # rounding makes ties
    slope, low, high, intercept = theil_sen(series)
    for row, values in enumerate(series):
        reference = theilslopes(values)
        assert slope[row] == pytest.approx(reference.slope)
        assert low[row] == pytest.approx(reference.low_slope)
        assert high[row] == pytest.approx(reference.high_slope)
        assert intercept[row] == pytest.approx(reference.intercept)


def test_mann_kendall_statistic_variance_and_p_value_by_hand():
    rng = np.random.default_rng(7)
    series = np.round(rng.normal(0, 1, size=(30, 24)), 1)
    s, variance, p_value = mann_kendall(series)
    n = 24
    for row, y in enumerate(series):
        expected_s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
        _, counts = np.unique(y, return_counts=True)
        ties = sum(c * (c - 1) * (2 * c + 5) for c in counts)
        expected_var = (n * (n - 1) * (2 * n + 5) - ties) / 18
        z = (expected_s - np.sign(expected_s)) / np.sqrt(expected_var)
        assert s[row] == expected_s
        assert variance[row] == pytest.approx(expected_var)
        assert p_value[row] == pytest.approx(2 * norm.sf(abs(z)))


def test_masked_mann_kendall_is_the_test_on_the_masked_cells_alone():
    rng = np.random.default_rng(8)
    series = np.round(rng.normal(0, 1, size=(40, 24)), 1)
    mask = rng.random(series.shape) < 0.4
    mask[0] = True  # all cells: the plain test
    mask[1] = False
    mask[1, :2] = True  # two cells: no test
    rho1 = rng.uniform(-0.2, 0.6, 40)
    s, variance, p_value = mann_kendall(series, rho1=rho1, mask=mask)
    for row in range(40):
        kept = series[row][mask[row]][None, :]
        if kept.shape[1] < 3:
            assert np.isnan(p_value[row])
            continue
        s_alone, var_alone, p_alone = mann_kendall(kept, rho1=rho1[row : row + 1])
        assert s[row] == s_alone[0]
        assert variance[row] == pytest.approx(var_alone[0])
        assert p_value[row] == pytest.approx(p_alone[0])


def test_masked_lag1_autocorrelation_pairs_each_cell_with_the_previous_masked_one():
    rng = np.random.default_rng(9)
    residual = rng.normal(0, 1, size=(30, 24))
    mask = rng.random(residual.shape) < 0.5
    mask[0] = True
    rho = lag1_autocorrelation(residual, mask)
    for row in range(30):
        kept = residual[row][mask[row]][None, :]
        assert rho[row] == pytest.approx(lag1_autocorrelation(kept)[0])


def test_tie_term_counts_every_group_once():
    series = np.array([[1.0, 1.0, 2.0, 3.0, 3.0, 3.0], [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    assert tie_term(series).tolist() == [2 * 1 * 9 + 3 * 2 * 11, 0.0]


def test_positive_autocorrelation_inflates_the_variance():
    series = np.arange(24.0)[None, :]
    _, plain, _ = mann_kendall(series)
    _, inflated, _ = mann_kendall(series, rho1=np.array([0.5]))
    assert inflated[0] > plain[0]
    _, unchanged, _ = mann_kendall(series, rho1=np.array([-0.5]))
    assert unchanged[0] == plain[0]


def portfolio_matrix(customers: int = 1500, seed: int = 11):
    from customers.demo import generate_portfolio

    transactions = generate_portfolio(customers=customers, seed=seed).transactions
    month = pd.to_datetime(transactions["date"]).dt.to_period("M").dt.to_timestamp()
    totals = transactions.assign(month=month).groupby(["customer_id", "month"])["amount"].sum()
    wide = totals.unstack()
    months = pd.date_range(wide.columns.min(), wide.columns.max(), freq="MS")
    wide = wide.reindex(columns=months)
    first = wide.notna().to_numpy().argmax(axis=1)
    inside = np.arange(len(months))[None, :] >= first[:, None]
    return np.where(inside, np.nan_to_num(wide.to_numpy()), np.nan), months


@pytest.fixture(scope="module")
def portfolio():
    return portfolio_matrix()


def test_same_input_gives_identical_output(portfolio):
    matrix, months = portfolio
    first = analyze_portfolio(matrix, months, Params())
    second = analyze_portfolio(matrix.copy(), months, Params())
    pd.testing.assert_frame_equal(first.figures, second.figures)
    pd.testing.assert_frame_equal(first.anomalies, second.anomalies)


def test_a_one_ulp_change_of_the_input_never_changes_a_level(portfolio):
    matrix, months = portfolio
    baseline = analyze_portfolio(matrix, months, Params()).figures
    for direction in (np.inf, -np.inf):
        nudged = np.nextafter(matrix, direction)
        figures = analyze_portfolio(nudged, months, Params()).figures
        changed = baseline["decline_level"].fillna(-1) != figures["decline_level"].fillna(-1)
        assert changed.sum() == 0, baseline[changed].index.tolist()
        assert (baseline["churned"] == figures["churned"]).all()


def test_the_core_imports_no_django():
    for path in CORE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] == "django" for name in names), path.name

"""The purchase process (BG/BB) against the reference library, lifetimes, and the paper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core.purchase import (
    DEFAULT_MODEL,
    PurchaseModel,
    activity_summary,
    expected_purchases,
    fit_purchase_model,
    probability_alive,
)

lifetimes = pytest.importorskip("lifetimes")


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    """The donations data of Fader, Hardie & Shang (2010) that lifetimes ships: 11,104
    donors, 6 yearly opportunities after the first, as (x, t_x, n) patterns with counts."""
    from lifetimes.datasets import load_donations

    return load_donations()


def expanded(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    weights = frame["weights"].to_numpy()
    columns = ("frequency", "recency", "periods")
    return tuple(np.repeat(frame[column].to_numpy(), weights) for column in columns)


def test_fit_on_the_donations_data_gives_the_published_parameters(donations):
    model = fit_purchase_model(*expanded(donations))
    # Table 2 of the paper: α 1.204, β 0.750, γ 0.657, δ 2.783.
    assert model.as_list() == pytest.approx([1.204, 0.750, 0.657, 2.783], abs=2e-3)


def test_fit_agrees_with_lifetimes(donations):
    reference = lifetimes.BetaGeoBetaBinomFitter().fit(
        donations["frequency"], donations["recency"], donations["periods"], donations["weights"]
    )
    ours = fit_purchase_model(*expanded(donations))
    expected = [reference.params_[k] for k in ("alpha", "beta", "gamma", "delta")]
    assert ours.as_list() == pytest.approx(expected, rel=1e-3)


def test_probability_alive_and_expected_purchases_equal_lifetimes_at_the_same_parameters():
    model = PurchaseModel(alpha=0.59, beta=3.37, gamma=0.42, delta=2.78)
    reference = lifetimes.BetaGeoBetaBinomFitter()
    reference.params_ = pd.Series({"alpha": 0.59, "beta": 3.37, "gamma": 0.42, "delta": 2.78})
    rng = np.random.default_rng(3)
    n = rng.integers(1, 30, 200)
    t_x = rng.integers(0, n + 1)
    x = np.where(t_x > 0, rng.integers(1, np.maximum(t_x, 1) + 1), 0)
    alive = probability_alive(model, x, t_x, n)
    expected_alive = reference.conditional_probability_alive(1, x, t_x, n)
    # lifetimes sums the likelihood in another order: agreement to 1e-5.
    assert alive == pytest.approx(np.asarray(expected_alive, dtype=float), rel=1e-5)
    for months in (1, 6, 12):
        ours = expected_purchases(model, x, t_x, n, months)
        theirs = reference.conditional_expected_number_of_purchases_up_to_time(months, x, t_x, n)
        assert ours == pytest.approx(np.asarray(theirs, dtype=float), rel=1e-5)


def test_activity_summary_counts_repeat_months_from_the_first_purchase():
    active = np.array(
        [
            [False, True, False, True, False],  # first month 1, repeats in 3
            [True, False, False, False, False],  # one purchase
            [False, False, False, False, False],  # never bought
        ]
    )
    x, t_x, n = activity_summary(active, active.any(axis=1))
    assert x.tolist() == [1, 0, 0]
    assert t_x.tolist() == [2, 0, 0]
    assert n.tolist() == [3, 4, 0]


def test_a_portfolio_too_small_to_fit_gets_the_weak_default_model():
    ones = np.ones(5, dtype=int)
    assert fit_purchase_model(ones, ones, 3 * ones) == DEFAULT_MODEL


def test_a_long_quiet_spell_makes_a_regular_buyer_less_likely_alive():
    model = PurchaseModel(alpha=0.59, beta=3.37, gamma=0.42, delta=2.78)
    # Bought in all 35 months after the first, then quiet for 0 … 4 months.
    quiet = np.arange(5)
    alive = probability_alive(model, np.full(5, 35), np.full(5, 35), 35 + quiet)
    assert np.all(np.diff(alive) < 0)
    assert alive[0] > 0.9 and alive[4] < 0.05


def test_the_likelihood_gradient_matches_finite_differences():
    from scipy.optimize import approx_fprime

    from analytics.core.purchase import _log_likelihood, _value_and_gradient

    rng = np.random.default_rng(5)
    n = rng.integers(1, 24, 300).astype(float)
    t_x = rng.integers(0, n + 1).astype(float)
    x = np.where(t_x > 0, rng.integers(1, np.maximum(t_x, 1) + 1), 0).astype(float)
    weights = rng.integers(1, 50, 300).astype(float)
    for point in ([0.0, 0.0, 0.0, 0.0], [-0.5, 1.2, -0.9, 1.0], [0.4, -0.3, 2.0, 3.5]):
        point = np.array(point)
        numeric = approx_fprime(point, _log_likelihood, 1e-6, x, t_x, n, weights)
        value, analytic = _value_and_gradient(point, x, t_x, n, weights)
        assert value == pytest.approx(_log_likelihood(point, x, t_x, n, weights), rel=1e-12)
        assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-3)

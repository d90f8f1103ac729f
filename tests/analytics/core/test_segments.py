from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core import Params, analyze_portfolio, segment_portfolio
from analytics.core.segments import pattern_word, segment_name, trend_word, value_word
from tests.analytics.core.test_reference import portfolio_matrix


@pytest.fixture(scope="module")
def figures():
    matrix, months = portfolio_matrix(customers=1200, seed=3)
    return analyze_portfolio(matrix, months, Params()).figures


def test_segments_are_deterministic_and_skip_insufficient_customers(figures):
    first = segment_portfolio(figures, Params())
    second = segment_portfolio(figures, Params())
    assert np.array_equal(first.labels, second.labels)
    insufficient = figures["decline_level"].isna().to_numpy()
    assert (first.labels[insufficient] == -1).all()
    assert (first.labels[~insufficient] >= 0).all()
    assert 2 <= first.k <= 8 and -1 <= first.silhouette <= 1


def test_the_same_data_gets_the_same_names_in_the_same_order(figures):
    """A run reads its figures ordered by customer id, so the same data comes in the same
    order; the names, their order and the sizes are then the same."""
    for k in (None, 3, 5):
        first = segment_portfolio(figures, Params(segments=k))
        again = segment_portfolio(figures.copy(), Params(segments=k))
        assert list(first.profiles["name"]) == list(again.profiles["name"])
        assert list(first.profiles["size"]) == list(again.profiles["size"])


def test_a_given_k_is_used_and_profiles_reconcile_with_the_customers_figures(figures):
    result = segment_portfolio(figures, Params(segments=4))
    assert result.k == 4
    profiles = result.profiles
    assert list(profiles["number"]) == [0, 1, 2, 3]
    assert profiles["size"].sum() == figures["decline_level"].notna().sum()
    # numbered by the median customer's revenue, largest first
    assert profiles["revenue_median"].is_monotonic_decreasing
    for row in profiles.itertuples():
        members = figures[result.labels == row.number]
        assert row.size == len(members)
        assert row.revenue_median == pytest.approx(members["revenue_mean"].median())
        assert row.revenue_mean == pytest.approx(members["revenue_mean"].mean())
        assert row.cv == pytest.approx(members["cv"].median())
        assert row.relative_change_12m == pytest.approx(
            members["relative_change_12m"].dropna().median()
        )
        assert row.share_declining == pytest.approx((members["decline_level"] >= 1).mean())
    z_columns = [c for c in profiles.columns if c.startswith("z_")]
    assert len(z_columns) == 6
    assert np.allclose(profiles[z_columns].mean(), 0.0)
    assert profiles["name"].str.count("·").eq(2).all()


@pytest.mark.parametrize("seed", [3, 7, 19])
@pytest.mark.parametrize("k", [None, 2, 4, 6])
def test_a_large_customer_is_never_in_a_low_value_segment(seed, k):
    """A customer averaging 10× the portfolio's median is never called low value, and a
    segment's value word agrees with where its median customer sits in the portfolio."""
    matrix, months = portfolio_matrix(customers=600, seed=seed)
    figures = analyze_portfolio(matrix, months, Params()).figures
    result = segment_portfolio(figures, Params(segments=k))
    judged = figures["decline_level"].notna().to_numpy()
    revenue = figures["revenue_mean"].to_numpy(dtype=float)
    median, q75 = np.quantile(revenue[judged], [0.5, 0.75])
    names = dict(zip(result.profiles["number"], result.profiles["name"], strict=True))
    large = judged & (revenue >= 10 * median)
    assert large.any()
    for label in result.labels[large]:
        assert not names[label].startswith("Low value"), names[label]
    for row in result.profiles.itertuples():
        if row.name.startswith("High value"):
            assert row.revenue_median >= q75
        if row.name.startswith(("Low value", "Mixed value")):
            assert row.revenue_median <= median


def test_the_largest_customers_are_not_named_low_because_another_segment_is_larger():
    """The issue's case: the segments were ranked against each other, so a segment of large,
    steady customers became "Low value" beside one even larger. Absolute bands cannot."""
    rng = np.random.default_rng(1)
    n = 300
    revenue = np.concatenate([rng.lognormal(6, 0.5, n - 20), rng.lognormal(12, 0.3, 20)])
    figures = pd.DataFrame(
        {
            "decline_level": pd.array(np.zeros(n, dtype=int), dtype="Int64"),
            "revenue_mean": revenue,
            "relative_change_12m": rng.normal(0, 0.05, n),
            "cv": np.r_[rng.uniform(0.1, 0.25, n - 20), rng.uniform(0.9, 1.5, 20)],
            "resid_std": revenue * 0.1,
            "seasonal_strength": rng.uniform(0, 0.3, n),
            "active_months": np.full(n, 36),
            "n_months": np.full(n, 36),
        }
    )
    result = segment_portfolio(figures, Params(segments=3))
    large_labels = set(result.labels[n - 20 :])
    for row in result.profiles.itertuples():
        if row.number in large_labels:
            assert row.name.split(" · ")[0] in ("High value", "Mid value", "Mixed value")
        assert row.name.split(" · ")[1] == "stable"  # nobody declines


def measures(**overrides) -> pd.Series:
    base = {
        "revenue_median": 500.0,
        "revenue_max": 700.0,
        "portfolio_median": 500.0,
        "portfolio_q75": 1000.0,
        "share_declining": 0.1,
        "share_sharp": 0.0,
        "relative_change_12m": 0.0,
        "activity": 1.0,
        "seasonal_strength": 0.1,
        "cv": 0.5,
    }
    return pd.Series({**base, **overrides}, dtype=float)


@pytest.mark.parametrize(
    ("overrides", "word"),
    [
        ({"revenue_median": 1000.0}, "High value"),
        ({"revenue_median": 999.0}, "Mid value"),
        ({"revenue_median": 500.0, "revenue_max": 1000.0}, "Low value"),
        ({"revenue_median": 500.0, "revenue_max": 1001.0}, "Mixed value"),
        # Nobody above 3× the median either, when the top quarter starts higher than that.
        ({"portfolio_q75": 5000.0, "revenue_max": 1600.0}, "Mixed value"),
    ],
)
def test_value_bands(overrides, word):
    assert value_word(measures(**overrides))[0] == word


@pytest.mark.parametrize(
    ("overrides", "word"),
    [
        ({"share_sharp": 0.5, "share_declining": 0.5}, "declining sharply"),
        ({"share_sharp": 0.49, "share_declining": 0.5}, "declining"),
        ({"share_declining": 0.2}, "partly declining"),
        ({"share_declining": 0.19, "relative_change_12m": 0.1}, "growing"),
        ({"share_declining": 0.19, "relative_change_12m": 0.09}, "stable"),
        ({"share_declining": 0.0, "relative_change_12m": float("nan")}, "stable"),
    ],
)
def test_trend_words(overrides, word):
    assert trend_word(measures(**overrides))[0] == word


@pytest.mark.parametrize(
    ("overrides", "word"),
    [
        ({"activity": 0.49, "seasonal_strength": 0.9}, "occasional"),
        ({"seasonal_strength": 0.6}, "seasonal"),
        ({"cv": 0.8}, "volatile"),
        ({"cv": 0.3}, "steady"),
        ({"cv": 0.31}, "variable"),
    ],
)
def test_pattern_words(overrides, word):
    assert pattern_word(measures(**overrides))[0] == word


def test_a_name_is_its_three_words_in_a_fixed_order():
    assert (
        segment_name(measures(revenue_median=2000.0, share_declining=0.6, cv=0.9))
        == "High value · declining · volatile"
    )

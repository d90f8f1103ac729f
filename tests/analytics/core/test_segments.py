from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.core import Params, analyze_portfolio, segment_portfolio
from analytics.core.segments import segment_name
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


def test_a_given_k_is_used_and_profiles_add_up(figures):
    result = segment_portfolio(figures, Params(segments=4))
    assert result.k == 4
    profiles = result.profiles
    assert list(profiles["number"]) == [0, 1, 2, 3]
    assert profiles["size"].sum() == figures["decline_level"].notna().sum()
    # numbered by mean revenue, largest first
    assert profiles["log_revenue"].is_monotonic_decreasing
    z_columns = [c for c in profiles.columns if c.startswith("z_")]
    assert len(z_columns) == 6
    assert np.allclose(profiles[z_columns].mean(), 0.0)
    assert profiles["name"].str.count("·").eq(2).all()


def test_segment_name_uses_the_most_distinctive_features():
    z = pd.Series(
        {
            "log_revenue": 1.2,
            "relative_change_12m": -1.5,
            "cv": 0.9,
            "residual_share": 0.1,
            "activity": 0.2,
            "seasonal_strength": -0.3,
        }
    )
    assert segment_name(z) == "High value · declining · volatile"

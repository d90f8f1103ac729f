"""The backtest's scoring on small hand-made portfolios, against scikit-learn and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from analytics.core.backtest import (
    Method,
    evaluate_cutoff,
    outcome,
    recency_method,
    top_loss,
)

NAN = np.nan
# Four customers × 12 months up to the cutoff.
MATRIX = np.array(
    [
        [100.0] * 12,  # steady
        [100.0] * 6 + [0.0] * 6,  # quiet for 6 months
        [NAN] * 4 + [50.0] * 8,  # 8 months of history
        [NAN] * 9 + [80.0] * 3,  # 3 months: not judged
    ]
)
NEXT_TOTAL = np.array([600.0, 0.0, 120.0, 480.0])  # over 6 months
NEXT_ACTIVE = np.array([6, 0, 2, 6])


def test_real_loss_is_the_next_months_mean_below_three_quarters_of_the_previous_years():
    truth = outcome(MATRIX, NEXT_TOTAL, 6)
    assert truth.previous_mean.tolist() == [100.0, 50.0, 50.0, 80.0]
    assert truth.real_loss.tolist() == [False, True, True, False]  # 0 < 37.5; 20 < 37.5
    assert truth.realised_loss.tolist() == [0.0, 300.0, 180.0, 0.0]


def test_recency_counts_months_since_the_last_purchase():
    method = recency_method(MATRIX, outcome(MATRIX, NEXT_TOTAL, 6).previous_mean)
    assert method.ranking.tolist() == [0.0, 6.0, 0.0, 0.0]


def test_top_n_takes_the_customers_with_most_money_at_stake():
    assert top_loss(np.array([5.0, 7.0, 1.0]), np.array([0.3, 0.1, 0.9]), top=2) == 6.0


def test_evaluation_per_level_and_per_method():
    level = np.array([0.0, 3.0, 1.0, NAN])
    ranking = np.array([0.1, 0.9, 0.2, NAN])
    methods = {
        "ours": Method(
            ranking=ranking,
            money=np.array([0.0, 500.0, 100.0, 0.0]),
            level=level,
            predicted_loss=np.array([0.0, 250.0, 50.0, 0.0]),
            expected_next=np.array([600.0, 50.0, 250.0, NAN]),
        ),
        "recency": recency_method(MATRIX, outcome(MATRIX, NEXT_TOTAL, 6).previous_mean),
    }
    result = evaluate_cutoff(MATRIX, NEXT_TOTAL, NEXT_ACTIVE, methods, 6, top=1)
    assert result["population"] == 3  # the 3-month customer is not judged
    assert result["loss_share"] == pytest.approx(2 / 3)
    levels = {row["level"]: row for row in result["levels"]}
    assert levels["3"]["customers"] == 1 and levels["3"]["no_purchase_share"] == 1.0
    assert levels["1"]["loss_share"] == 1.0 and levels["1"]["median_ratio"] == pytest.approx(0.4)
    assert levels["0"]["loss_share"] == 0.0 and levels["none"]["customers"] == 0
    ours, recency = result["methods"]
    lost = np.array([False, True, True])
    assert ours["auc"] == pytest.approx(roc_auc_score(lost, ranking[:3]))
    assert recency["auc"] == pytest.approx(roc_auc_score(lost, [0.0, 6.0, 0.0]))
    assert ours["declining"]["precision"] == 1.0 and ours["declining"]["recall"] == 1.0
    assert ours["declining"]["lift"] == pytest.approx(1.5)
    assert ours["top_loss"] == 300.0 and result["best_top_loss"] == 300.0
    risk = result["calibration"]["revenue_at_risk"]
    assert risk["predicted"] == 300.0 and risk["realised"] == 480.0
    expected = result["calibration"]["expected_revenue"]
    assert expected["predicted"] == 900.0 and expected["realised"] == 720.0
    # Against the same 6 months a year earlier, where the history covers them (customers 0, 1).
    assert result["seasonal"]["population"] == 2 and result["seasonal"]["loss_share"] == 0.5

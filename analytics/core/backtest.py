"""Judging levels by what happened next (docs/method.md §13).

Given what a method said at a cutoff and each customer's revenue in the previous 12 months
and the following ``horizon`` months, how well did it foretell real loss? Pure numpy / scikit-
learn; the backtest command and the real-data benchmark both use it.

Real loss: the next months' mean below ``LOSS_RATIO`` of the previous 12 months' mean (of the
months the customer had, when fewer). Realised loss in money: max(0, horizon × previous mean −
next revenue).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, SupportsFloat

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from .analyze import span_lengths
from .anomalies import HALF_CENT
from .baseline import seed_rule_levels
from .purchase import PurchaseModel, activity_summary, expected_purchases

LOSS_RATIO = 0.75
TOP = 100


@dataclass(frozen=True)
class Outcome:
    previous_mean: np.ndarray  # mean monthly revenue of the 12 months up to the cutoff
    next_total: np.ndarray  # revenue in the horizon after the cutoff
    horizon: int

    @property
    def real_loss(self) -> np.ndarray:
        return self.next_total / self.horizon < LOSS_RATIO * self.previous_mean

    @property
    def realised_loss(self) -> np.ndarray:
        loss: npt.NDArray[np.float64] = np.maximum(
            0.0, self.horizon * self.previous_mean - self.next_total
        )
        return loss


def outcome(matrix: np.ndarray, next_total: np.ndarray, horizon: int) -> Outcome:
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row with no month in the 12
        previous = np.nanmean(matrix[:, -12:], axis=1)
    return Outcome(np.nan_to_num(previous, nan=0.0), next_total, horizon)


def auc(truth: np.ndarray, score: np.ndarray) -> float:
    """AUC of ``score`` (higher = more likely lost) over the customers it scores."""
    scored = np.isfinite(score)
    if scored.sum() < 2 or len(np.unique(truth[scored])) < 2:
        return float("nan")
    return float(roc_auc_score(truth[scored], score[scored]))


def flag_quality(truth: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Precision, recall and lift (precision over the base rate) of a flag."""
    base = truth.mean() if len(truth) else float("nan")
    hits = (truth & flagged).sum()
    precision = hits / flagged.sum() if flagged.sum() else float("nan")
    recall = hits / truth.sum() if truth.sum() else float("nan")
    return {"precision": precision, "recall": recall, "lift": precision / base if base else np.nan}


def top_loss(realised: np.ndarray, money_score: np.ndarray, top: int = TOP) -> float:
    """Realised loss of the ``top`` customers with the highest ``money_score``."""
    order = np.argsort(-np.nan_to_num(money_score, nan=-np.inf), kind="stable")[:top]
    return float(realised[order].sum())


def calibration_by_decile(predicted: np.ndarray, realised: np.ndarray) -> list[tuple[float, float]]:
    """(mean predicted, mean realised) per decile of the prediction."""
    order = np.argsort(predicted, kind="stable")
    return [
        (float(predicted[part].mean()), float(realised[part].mean()))
        for part in np.array_split(order, 10)
        if len(part)
    ]


MIN_HISTORY = 6  # months since the first purchase for a customer to be judged at all
YEAR = 12
LEVEL_NAMES = ("0", "1", "2", "3", "none")


@dataclass(frozen=True)
class Method:
    """What one method said at the cutoff, one value per customer (matrix row).

    ``ranking``: higher = more likely to lose revenue (NaN = not scored); ``money``: what its
    top-N list sorts by; ``level``: 0–3 (NaN = none) for methods that flag; ``predicted_loss``:
    revenue it expects lost over the horizon against the previous 12 months' mean."""

    ranking: np.ndarray
    money: np.ndarray
    level: np.ndarray | None = None
    predicted_loss: np.ndarray | None = None
    expected_next: np.ndarray | None = None


def revtrend_method(
    level: np.ndarray,
    revenue_at_risk: np.ndarray,
    expected_revenue_12m: np.ndarray,
    previous_mean: np.ndarray,
    horizon: int,
) -> Method:
    """What a RevTrend run said: its levels; its ranking, the expected shortfall (1 −
    expected revenue over 12 × the previous 12 months' mean); its money, the revenue at
    risk; both forecasts scaled from 12 months to the horizon."""
    with np.errstate(invalid="ignore", divide="ignore"):
        shortfall = np.where(
            previous_mean > 0, 1.0 - expected_revenue_12m / (YEAR * previous_mean), np.nan
        )
    share = horizon / YEAR
    return Method(
        ranking=np.where(np.isnan(level), np.nan, shortfall),
        money=np.nan_to_num(revenue_at_risk, nan=0.0),
        level=level,
        predicted_loss=np.nan_to_num(revenue_at_risk, nan=0.0) * share,
        expected_next=expected_revenue_12m * share,
    )


def recency_method(matrix: np.ndarray, previous_mean: np.ndarray) -> Method:
    """Months since the last purchase: the simplest anchor a user could apply."""
    active = np.nan_to_num(matrix) >= HALF_CENT
    valid = active.any(axis=1)
    _, t_x, n = activity_summary(active, valid)
    quiet = np.where(valid, n - t_x, matrix.shape[1]).astype(float)
    return Method(ranking=quiet, money=quiet * previous_mean)


def seed_rule_method(matrix: np.ndarray) -> Method:
    """The prototype's absolute-slope rule; its high-risk table (levels 2–3) by mean revenue."""
    level = seed_rule_levels(matrix).astype(float)
    level[level < 0] = np.nan
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(matrix, axis=1)
    return Method(ranking=level, money=np.where(level >= 2, mean, -np.inf), level=level)


def purchase_model_method(
    matrix: np.ndarray, previous_mean: np.ndarray, horizon: int, model: PurchaseModel
) -> Method:
    """A purchase-process model on its own (the BG/BB the run fitted on the data up to the
    cutoff): expected months with a purchase in the horizon, times the customer's mean
    buying month."""
    values = np.nan_to_num(matrix)
    active = values >= HALF_CENT
    history = activity_summary(active, active.any(axis=1))
    expected = expected_purchases(model, *history, horizon)
    spend = np.where(active, values, 0.0).sum(axis=1) / np.maximum(active.sum(axis=1), 1)
    predicted = np.maximum(0.0, horizon * previous_mean - expected * spend)
    return Method(
        ranking=-expected,
        money=predicted,
        predicted_loss=predicted,
        expected_next=expected * spend,
    )


def evaluate_cutoff(
    matrix: np.ndarray,
    next_total: np.ndarray,
    next_active: np.ndarray,
    methods: dict[str, Method],
    horizon: int,
    top: int = TOP,
) -> dict[str, Any]:
    """Everything a backtest shows for one cutoff, as JSON-ready numbers.

    ``matrix``: revenue up to the cutoff (customers × months, NaN before each customer's
    first month); ``next_total`` / ``next_active``: revenue and months with a purchase in
    the ``horizon`` months after it. The first method is the one whose levels the per-level
    table describes (RevTrend)."""
    truth = outcome(matrix, next_total, horizon)
    population = (span_lengths(matrix) >= MIN_HISTORY) & (truth.previous_mean > 0)
    lost = truth.real_loss[population]
    realised = truth.realised_loss[population]
    top = int(min(top, population.sum()))
    main = next(iter(methods.values()))
    assert main.level is not None, "the first method is one that gives levels (RevTrend)"
    result = {
        "customers": len(matrix),
        "population": int(population.sum()),
        "loss_share": _float(lost.mean()) if population.any() else None,
        "top_n": top,
        "best_top_loss": float(np.sort(realised)[::-1][:top].sum()),
        "levels": _level_table(main.level, truth, next_active, population),
        "methods": [
            _method_row(name, method, lost, realised, population, top)
            for name, method in methods.items()
        ],
        "calibration": _calibration(main, truth, population),
        "seasonal": _seasonal(matrix, next_total, methods, population, horizon),
    }
    return result


def _float(value: SupportsFloat) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _level_table(
    level: np.ndarray, truth: Outcome, next_active: np.ndarray, population: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (truth.next_total / truth.horizon) / truth.previous_mean
    for name in LEVEL_NAMES:
        members = population & (np.isnan(level) if name == "none" else level == int(name))
        count = int(members.sum())
        rows.append(
            {
                "level": name,
                "customers": count,
                "loss_share": _float(truth.real_loss[members].mean()) if count else None,
                "no_purchase_share": _float((next_active[members] == 0).mean()) if count else None,
                "median_ratio": _float(np.median(ratio[members])) if count else None,
            }
        )
    return rows


def _method_row(
    name: str,
    method: Method,
    lost: np.ndarray,
    realised: np.ndarray,
    population: np.ndarray,
    top: int,
) -> dict[str, Any]:
    ranking = method.ranking[population]
    row: dict[str, Any] = {
        "name": name,
        "scored_share": _float(np.isfinite(ranking).mean()) if len(ranking) else None,
        "auc": _float(auc(lost, ranking)),
        "top_loss": top_loss(realised, method.money[population], top),
    }
    if method.predicted_loss is not None:  # predicted / realised over the method's claims
        claims = method.predicted_loss[population] > 0
        realised_claimed = realised[claims].sum()
        predicted = method.predicted_loss[population][claims].sum()
        row["loss_ratio"] = _float(predicted / realised_claimed) if realised_claimed else None
    if method.level is not None:
        level = method.level[population]
        row["auc_level"] = _float(auc(lost, level))
        for key, flagged in (("declining", level >= 1), ("sharp", level >= 3)):
            quality = flag_quality(lost, flagged)
            row[key] = {k: _float(v) for k, v in quality.items()}
            row[key]["flagged"] = int(flagged.sum())
    return row


def _calibration(main: Method, truth: Outcome, population: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    realised = truth.realised_loss[population]
    if main.predicted_loss is not None:
        # Over the customers the forecast put money at risk for: its claims.
        flagged = main.predicted_loss[population] > 0
        predicted = main.predicted_loss[population][flagged]
        out["revenue_at_risk"] = {
            "predicted": float(predicted.sum()),
            "realised": float(realised[flagged].sum()),
            "deciles": calibration_by_decile(predicted, realised[flagged]),
        }
    if main.expected_next is not None:
        expected = main.expected_next[population]
        scored = np.isfinite(expected)
        actual = truth.next_total[population][scored]
        out["expected_revenue"] = {
            "predicted": float(expected[scored].sum()),
            "realised": float(actual.sum()),
            "deciles": calibration_by_decile(expected[scored], actual),
        }
    return out


def _seasonal(
    matrix: np.ndarray,
    next_total: np.ndarray,
    methods: dict[str, Method],
    population: np.ndarray,
    horizon: int,
) -> dict[str, Any] | None:
    """Real loss against the same months a year earlier, where the history covers them."""
    width = matrix.shape[1]
    start = width - 12
    if start < 0 or start + horizon > width:
        return None
    year_before = matrix[:, start : start + horizon]
    covered = population & ~np.isnan(year_before).any(axis=1)
    before_mean = np.nan_to_num(year_before).mean(axis=1)
    judged = covered & (before_mean > 0)
    if judged.sum() < 2:
        return None
    lost = (next_total / horizon < LOSS_RATIO * before_mean)[judged]
    return {
        "population": int(judged.sum()),
        "loss_share": _float(lost.mean()),
        "auc": {name: _float(auc(lost, m.ranking[judged])) for name, m in methods.items()},
    }

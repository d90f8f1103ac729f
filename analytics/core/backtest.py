"""Judging levels by what happened next (METHOD.md, "The test of truth").

Given what a method said at a cutoff and each customer's revenue in the previous 12 months
and the following ``horizon`` months, how well did it foretell real loss? Pure numpy / scikit-
learn; the backtest command and the real-data benchmark both use it.

Real loss: the next months' mean below ``LOSS_RATIO`` of the previous 12 months' mean (of the
months the customer had, when fewer). Realised loss in money: max(0, horizon × previous mean −
next revenue).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

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
        return np.maximum(0.0, self.horizon * self.previous_mean - self.next_total)


def outcome(matrix: np.ndarray, next_total: np.ndarray, horizon: int) -> Outcome:
    previous = np.nanmean(np.where(np.isnan(matrix[:, -12:]), np.nan, matrix[:, -12:]), axis=1)
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


def calibration_by_decile(predicted: np.ndarray, realised: np.ndarray) -> list[tuple]:
    """(mean predicted, mean realised) per decile of the prediction."""
    order = np.argsort(predicted, kind="stable")
    return [
        (float(predicted[part].mean()), float(realised[part].mean()))
        for part in np.array_split(order, 10)
        if len(part)
    ]

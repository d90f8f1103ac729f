"""The short machine-built sentence that says which facts set a customer's level."""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from .params import Params


def _percent(value: float) -> str:
    return _percent_text(round(value * 100))


@lru_cache(maxsize=4096)
def _percent_text(whole_percent: int) -> str:
    return f"{whole_percent:+d} %".replace("-", "−")


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else _p_text(round(value, 3))


@lru_cache(maxsize=2048)
def _p_text(rounded: float) -> str:
    return f"p = {rounded:.3f}"


def explain_one(fact: dict, params: Params) -> str:
    level = fact["decline_level"]
    if level is pd.NA or level is None:
        return (
            f"Insufficient data: {fact['n_months']} months of history and "
            f"{fact['active_months']} active months (needs {params.min_span_months} and "
            f"{params.min_active_months})."
        )
    if fact["churned"]:
        return (
            f"Churned: no revenue in the last {int(fact['months_since_last_revenue'])} months "
            f"after buying in {fact['activity_before_gap'] * 100:.0f} % of months before."
        )
    change = fact["relative_change_12m"]
    change_text = (
        "change over 12 months unknown"
        if math.isnan(change)
        else f"{_percent(change)} over 12 months"
    )
    facts = f"{change_text}, {_p(fact['p_value'])}"
    if level >= 1:
        onset = fact["onset_month"]
        when = f", onset {onset:%Y-%m}" if pd.notna(onset) else ""
        return f"Level {level}: {facts}{when}."
    if fact["p_value"] >= params.alpha or fact["slope"] >= 0:
        return f"No significant decline: {facts}."
    return f"Significant but small decline: {facts} (level 1 starts at −10 %)."


COLUMNS = (
    "decline_level",
    "n_months",
    "active_months",
    "churned",
    "months_since_last_revenue",
    "activity_before_gap",
    "relative_change_12m",
    "p_value",
    "onset_month",
    "slope",
)


def explanations(figures: pd.DataFrame, params: Params) -> list[str]:
    # Plain lists: pandas' row objects would cost seconds on 100,000 customers. The common
    # case, no significant decline, is written inline.
    columns = [figures[name].tolist() for name in COLUMNS]
    out = []
    for values in zip(*columns, strict=True):
        level, change, p_value, slope = values[0], values[6], values[7], values[9]
        if (
            level is not pd.NA
            and level == 0
            and not values[3]
            and (p_value >= params.alpha or slope >= 0)
        ):
            change_text = (
                "change over 12 months unknown"
                if math.isnan(change)
                else f"{_percent(change)} over 12 months"
            )
            out.append(f"No significant decline: {change_text}, {_p(p_value)}.")
        else:
            out.append(explain_one(dict(zip(COLUMNS, values, strict=True)), params))
    return out

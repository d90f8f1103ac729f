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
    if math.isnan(value):
        return "no trend test (too few distinct months)"
    return "p < 0.001" if value < 0.001 else _p_text(round(value, 3))


def _money(value: float) -> str:
    return f"{value:,.0f}"


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
    if fact["by_purchase"]:
        return _explain_purchase(fact, level)
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
    if not fact["p_value"] < params.alpha or fact["slope"] >= 0:
        return f"No significant decline: {facts}."
    mild = _percent(params.level_edges[0])
    return f"Significant but small decline: {facts} (level 1 starts at {mild})."


def _explain_purchase(fact: dict, level: int) -> str:
    """A level the purchase process set: how quiet, how likely still buying, what next."""
    gap = int(fact["months_since_last_revenue"])
    quiet = f"no purchase for {gap} months" if gap else "bought last month"
    change = fact["relative_change_12m"]
    versus = "" if math.isnan(change) else f" ({_percent(change)} against the last 12)"
    facts = (
        f"{quiet}; still buying at its own rhythm with probability "
        f"{fact['p_active'] * 100:.0f} %; expected {_money(fact['expected_revenue_12m'])} "
        f"over the next 12 months{versus}"
    )
    if level == 0:
        return f"No decline expected: {facts}."
    onset = fact["onset_month"]
    when = f", quiet since {onset:%Y-%m}" if pd.notna(onset) else ""
    return f"Level {level}: {facts}{when}."


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
    "by_purchase",
    "p_active",
    "expected_revenue_12m",
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
            and not values[10]
            and (not p_value < params.alpha or slope >= 0)
        ):
            change_text = (
                "change over 12 months unknown"
                if math.isnan(change)
                else f"{_percent(change)} over 12 months"
            )
            out.append(f"No significant decline: {change_text}, {_p(p_value)}.")
        else:
            out.append(explain_one(dict(zip(COLUMNS, values, strict=True)), params))
    _add_money_at_risk(out, figures)
    return out


def _add_money_at_risk(out: list[str], figures: pd.DataFrame) -> None:
    """A customer with no significant decline may still be expected to bring less than last
    year (a buying rate pulled back toward the portfolio's): say why it has money at risk."""
    at_risk = (figures["decline_level"].fillna(-1) == 0) & (figures["revenue_at_risk"] > 0)
    for row in at_risk.to_numpy().nonzero()[0]:
        expected = figures["expected_revenue_12m"].iat[row]
        change = figures["expected_change_12m"].iat[row]
        versus = "" if math.isnan(change) else f" ({_percent(change)} against the last 12)"
        out[row] += (
            f" Still, {_money(expected)} is expected over the next 12 months{versus}: "
            "money at risk without a significant decline."
        )

"""The short machine-built sentence that says which facts set a customer's level."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple, cast

import pandas as pd
from pandas.api.typing import NAType

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


# Stands before every amount of a sentence (the generic currency sign): the sentence is
# stored once, and whoever shows it puts the team's currency there (with_currency), so a
# team that sets or changes its currency sees it in sentences written before.
AMOUNT_MARK = "\u00a4"


def _money(value: float) -> str:
    return f"{AMOUNT_MARK}{value:,.0f}"


def with_currency(sentence: str, currency: str = "") -> str:
    """A stored sentence as shown: "expected EUR 6,911", or "expected 6,911" without a code."""
    return sentence.replace(AMOUNT_MARK, f"{currency}\u00a0" if currency else "")


@lru_cache(maxsize=2048)
def _p_text(rounded: float) -> str:
    return f"p = {rounded:.3f}"


class Fact(NamedTuple):
    """The figures a customer's sentence is built from (one row of the core's figures)."""

    decline_level: int | NAType | None  # <NA> from the Int64 column: insufficient data
    n_months: int
    active_months: int
    churned: bool
    months_since_last_revenue: float
    activity_before_gap: float
    relative_change_12m: float
    p_value: float
    onset_month: pd.Timestamp | None
    slope: float
    by_purchase: bool
    p_active: float
    expected_revenue_12m: float


def explain_one(fact: Fact, params: Params) -> str:
    level = fact.decline_level
    if isinstance(level, NAType) or level is None:  # NAType's one instance is pd.NA
        return (
            f"Insufficient data: {fact.n_months} months of history and "
            f"{fact.active_months} active months (needs {params.min_span_months} and "
            f"{params.min_active_months})."
        )
    if fact.churned:
        return (
            f"Churned: no revenue in the last {int(fact.months_since_last_revenue)} months "
            f"after buying in {fact.activity_before_gap * 100:.0f} % of months before."
        )
    if fact.by_purchase:
        return _explain_purchase(fact, level)
    change = fact.relative_change_12m
    change_text = (
        "change over 12 months unknown"
        if math.isnan(change)
        else f"{_percent(change)} over 12 months"
    )
    facts = f"{change_text}, {_p(fact.p_value)}"
    if level >= 1:
        onset = fact.onset_month
        when = f", onset {onset:%Y-%m}" if pd.notna(onset) else ""
        return f"Level {level}: {facts}{when}."
    if not fact.p_value < params.alpha or fact.slope >= 0:
        return f"No significant decline: {facts}."
    mild = _percent(params.level_edges[0])
    return f"Significant but small decline: {facts} (level 1 starts at {mild})."


def _explain_purchase(fact: Fact, level: int) -> str:
    """A level the purchase process set: how quiet, how likely still buying, what next."""
    gap = int(fact.months_since_last_revenue)
    quiet = f"no purchase for {gap} months" if gap else "bought last month"
    change = fact.relative_change_12m
    versus = "" if math.isnan(change) else f" ({_percent(change)} against the last 12)"
    facts = (
        f"{quiet}; still buying at its own rhythm with probability "
        f"{fact.p_active * 100:.0f} %; expected {_money(fact.expected_revenue_12m)} "
        f"over the next 12 months{versus}"
    )
    if level == 0:
        return f"No decline expected: {facts}."
    onset = fact.onset_month
    when = f", quiet since {onset:%Y-%m}" if pd.notna(onset) else ""
    return f"Level {level}: {facts}{when}."


def explanations(figures: pd.DataFrame, params: Params) -> list[str]:
    # Plain lists zipped into tuples: pandas' row objects would cost seconds on 100,000
    # customers.
    columns = [figures[name].tolist() for name in Fact._fields]
    out = [explain_one(Fact._make(values), params) for values in zip(*columns, strict=True)]
    _add_money_at_risk(out, figures)
    return out


def _add_money_at_risk(out: list[str], figures: pd.DataFrame) -> None:
    """A customer with no significant decline may still be expected to bring less than last
    year (a buying rate pulled back toward the portfolio's): say why it has money at risk."""
    at_risk = (figures["decline_level"].fillna(-1) == 0) & (figures["revenue_at_risk"] > 0)
    for row in at_risk.to_numpy().nonzero()[0]:
        # Float columns (pandas' stubs type a cell as any scalar).
        expected = cast(float, figures["expected_revenue_12m"].iat[int(row)])
        change = cast(float, figures["expected_change_12m"].iat[int(row)])
        versus = "" if math.isnan(change) else f" ({_percent(change)} against the last 12)"
        out[row] += (
            f" Still, {_money(expected)} is expected over the next 12 months{versus}: "
            "money at risk without a significant decline."
        )

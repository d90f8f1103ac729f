"""The short machine-built sentence that says which facts set a customer's level."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import Params


def _percent(value: float) -> str:
    return f"{value * 100:+.0f} %".replace("-", "−")


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def explain_one(row: pd.Series, params: Params) -> str:
    if pd.isna(row["decline_level"]):
        return (
            f"Insufficient data: {row['n_months']} months of history and "
            f"{row['active_months']} active months (needs {params.min_span_months} and "
            f"{params.min_active_months})."
        )
    if row["churned"]:
        return (
            f"Churned: no revenue in the last {int(row['months_since_last_revenue'])} months "
            f"after buying in {row['activity_before_gap'] * 100:.0f} % of months before."
        )
    change = row["relative_change_12m"]
    change_text = (
        "change over 12 months unknown"
        if np.isnan(change)
        else (f"{_percent(change)} over 12 months")
    )
    facts = f"{change_text}, {_p(row['p_value'])}"
    if row["decline_level"] >= 1:
        onset = row["onset_month"]
        when = f", onset {onset:%Y-%m}" if pd.notna(onset) else ""
        return f"Level {row['decline_level']}: {facts}{when}."
    if row["p_value"] >= params.alpha or row["slope"] >= 0:
        return f"No significant decline: {facts}."
    return f"Significant but small decline: {facts} (level 1 starts at −10 %)."


def explanations(figures: pd.DataFrame, params: Params) -> list[str]:
    return [explain_one(row, params) for _, row in figures.iterrows()]

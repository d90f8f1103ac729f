"""Parameters of the method and the names of its per-customer figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Params:
    alpha: float = 0.05  # significance of the trend test
    anomaly_z: float = 3.5  # robust z above its expected order that makes a month an anomaly
    segments: int | None = None  # KMeans k; None ⇒ chosen by silhouette over 2..8
    min_span_months: int = 6  # shorter spans are "insufficient data"
    min_active_months: int = 3  # fewer active months are judged by the purchase process alone
    churn_probability: float = 0.01  # a run of empty months this unlikely means churned
    min_churn_months: int = 3
    level_edges: tuple[float, float, float] = (-0.10, -0.25, -0.50)
    random_state: int = 0
    # BG/BB (α, β, γ, δ) fitted on the whole portfolio once per run (see ``purchase``);
    # None ⇒ fitted on the matrix the core is given.
    purchase_model: tuple[float, float, float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The per-customer figures, in the export order of docs/interfaces.md (customer_id and segment
# are added by the caller). Months are pandas Timestamps of the month's first day.
FIGURES: tuple[str, ...] = (
    "decline_level",  # Int64 0..3, <NA> for insufficient data
    "slope",
    "slope_low",
    "slope_high",
    "relative_change_12m",
    "p_value",
    "revenue_mean",
    "revenue_std",
    "cv",
    "resid_std",
    "seasonal_strength",
    "active_months",
    "n_months",
    "churned",
    "onset_month",
    "revenue_at_risk",
    "anomaly_count",
    "explanation",
    "p_active",  # P(still buying at its own rhythm), from the purchase process
    "expected_revenue_12m",
)
ANOMALY_COLUMNS: tuple[str, ...] = ("row", "month", "revenue", "expected", "zscore")

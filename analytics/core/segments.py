"""Behavioural segments: KMeans on standardised per-customer features, named by absolute rules.

k comes from the silhouette score over 2..8 on a fixed sample unless the user sets it, and
the centres from at most FIT_SAMPLE customers, every customer then taking the nearest;
every random choice uses ``params.random_state``. Insufficient-data customers are not
clustered (label −1).

A segment's name is three words — value · trend · pattern — each from a fixed rule on its
own customers measured against the whole portfolio (``NAMING``), never against the other
segments: two segments are both "High value" only if both are, and a segment whose customers
are all alike is not called "high" or "low" for being above or below another. The figures a
segment is named from (medians of its customers' exported figures, and the portfolio's
quartiles) are stored with it, so the page shows why it has its name and every figure can
be checked against the export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .params import Params

SAMPLE = 3000  # customers the silhouette of each candidate k is measured on
# Customers the final KMeans is fitted on (then every customer is assigned to the nearest
# centre): the cost of segmenting stays bounded at any portfolio size. Below it, every
# customer is fitted, as before.
FIT_SAMPLE = 50_000
K_RANGE = range(2, 9)

# The clustering features (each customer's, computed from the figures by segment_features).
FEATURES: tuple[str, ...] = (
    "log_revenue",
    "relative_change_12m",
    "cv",
    "residual_share",
    "activity",
    "seasonal_strength",
)


@dataclass(frozen=True)
class Naming:
    """The thresholds of the naming rules (the help page and the segments page quote them)."""

    low_value_cap_of_median: float = 3.0  # "Low value": nobody above 3× the portfolio median
    declining_share: float = 0.5  # at least half at level 1 or worse: "declining"
    sharp_share: float = 0.5  # at least half at level 3: "declining sharply"
    partly_declining_share: float = 0.2  # a fifth or more: "partly declining"
    growing_change: float = 0.10  # median 12-month change ≥ +10 %: "growing"
    occasional_activity: float = 0.5  # revenue in fewer than half the months: "occasional"
    seasonal_strength: float = 0.6  # median seasonal strength ≥ 0.6: "seasonal"
    volatile_cv: float = 0.8  # median CV ≥ 0.8: "volatile"
    steady_cv: float = 0.3  # median CV ≤ 0.3: "steady"; between: "variable"


NAMING = Naming()


@dataclass
class SegmentResult:
    labels: np.ndarray
    profiles: pd.DataFrame
    k: int
    silhouette: float


def segment_features(figures: pd.DataFrame) -> pd.DataFrame:
    mean = figures["revenue_mean"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        features = pd.DataFrame(
            {
                "log_revenue": np.log10(np.maximum(mean, 1.0)),
                "relative_change_12m": figures["relative_change_12m"].astype(float).clip(-1, 2),
                "cv": figures["cv"].astype(float).clip(0, 5),
                "residual_share": _residual_share(figures).clip(0, 5),
                "activity": _activity(figures),
                "seasonal_strength": figures["seasonal_strength"].astype(float),
            },
            index=figures.index,
        )
    return features.fillna(features.median()).fillna(0.0)


def _residual_share(figures: pd.DataFrame) -> pd.Series:
    mean = figures["revenue_mean"].astype(float)
    return figures["resid_std"].astype(float) / np.maximum(mean, 1.0)


def _activity(figures: pd.DataFrame) -> pd.Series:
    return figures["active_months"].astype(float) / np.maximum(
        figures["n_months"].astype(float), 1.0
    )


def segment_portfolio(figures: pd.DataFrame, params: Params) -> SegmentResult:
    from sklearn.cluster import KMeans

    clustered = figures["decline_level"].notna().to_numpy()
    labels = np.full(len(figures), -1)
    features = segment_features(figures[clustered])
    if len(features) < 3:
        return SegmentResult(
            labels, _profiles(figures[clustered], features, np.zeros(0), 0), 0, float("nan")
        )
    centre, scale = features.mean(), features.std(ddof=0).replace(0, 1.0)
    standardised = ((features - centre) / scale).to_numpy()
    k, silhouette = _choose_k(standardised, params)
    model = KMeans(n_clusters=k, n_init=4, random_state=params.random_state)
    fitted = model.fit(_sample(standardised, FIT_SAMPLE, params.random_state))
    members = figures[clustered]
    ordered = _order_by_value(fitted.predict(standardised), members)
    labels[clustered] = ordered
    return SegmentResult(labels, _profiles(members, features, ordered, k), k, silhouette)


def _choose_k(standardised: np.ndarray, params: Params) -> tuple[int, float]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import pairwise_distances, silhouette_score

    sample = _sample(standardised, SAMPLE, params.random_state)
    if params.segments:  # as asked, but never more segments than customers can make
        candidates = [min(params.segments, len(sample) - 1)]
    else:
        candidates = [k for k in K_RANGE if k < len(sample)]
    best_k, best_score = candidates[0], -1.0
    # The sample's distances once, for every candidate k's silhouette (each call would
    # otherwise compute the same 3,000 × 3,000 matrix again: 0.78 of 1.08 s at 20,000).
    distances = pairwise_distances(sample) if len(candidates) > 1 else None
    for k in candidates:
        labels = KMeans(n_clusters=k, n_init=3, random_state=params.random_state).fit_predict(
            sample
        )
        if len(set(labels)) < 2:
            score = -1.0
        elif distances is not None:
            score = silhouette_score(distances, labels, metric="precomputed")
        else:
            score = silhouette_score(sample, labels)
        if score > best_score:
            best_k, best_score = k, score
    return best_k, float(best_score)


def _sample(rows: np.ndarray, size: int, seed: int | None) -> np.ndarray:
    """At most ``size`` of the rows, drawn without replacement, in their order."""
    if len(rows) <= size:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), size, replace=False))]


def _order_by_value(labels: np.ndarray, members: pd.DataFrame) -> np.ndarray:
    """Number segments by their customers' median monthly revenue, largest first (then by
    size, then by the cluster's own number), so numbers are stable and meaningful."""
    revenue = members["revenue_mean"].astype(float).to_numpy()
    keys = []
    for label in np.unique(labels):
        inside = labels == label
        keys.append((-float(np.nanmedian(revenue[inside])), -int(inside.sum()), int(label)))
    mapping = {key[2]: new for new, key in enumerate(sorted(keys))}
    return np.array([mapping[label] for label in labels])


def _profiles(
    members: pd.DataFrame, features: pd.DataFrame, labels: np.ndarray, k: int
) -> pd.DataFrame:
    """One row per segment: number, name, size, the figures it is named from (medians of its
    customers' own figures, shares of its levels, the portfolio's quartiles) and the z-scored
    mean features the radar draws."""
    if k == 0:
        return pd.DataFrame(columns=["number", "name", "size"])
    measures = segment_measures(members, labels)
    means = features.groupby(labels).mean()
    spread = means.std(ddof=0).replace(0, 1.0)
    z = (means - means.mean()) / spread
    profiles = measures.copy()
    profiles.insert(0, "name", [segment_name(measures.loc[i]) for i in measures.index])
    profiles.insert(0, "number", measures.index.to_numpy())
    for column in features.columns:
        profiles[f"z_{column}"] = z[column].to_numpy()
    return profiles.reset_index(drop=True)


def segment_measures(members: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per segment (index: its label) the measures its name comes from, in the units of the
    export: medians over its customers (empty figures left out), level shares, and the
    portfolio's revenue quartiles over every segmented customer."""
    revenue = members["revenue_mean"].astype(float)
    levels = members["decline_level"].astype(float)
    frame = pd.DataFrame(
        {
            "revenue": revenue.to_numpy(),
            "relative_change_12m": members["relative_change_12m"].astype(float).to_numpy(),
            "cv": members["cv"].astype(float).to_numpy(),
            "residual_share": _residual_share(members).to_numpy(),
            "activity": _activity(members).to_numpy(),
            "seasonal_strength": members["seasonal_strength"].astype(float).to_numpy(),
            "declining": (levels >= 1).to_numpy(dtype=float),
            "sharp": (levels >= 3).to_numpy(dtype=float),
        }
    )
    groups = frame.groupby(labels)
    measures = pd.DataFrame(
        {
            "size": groups.size(),
            "revenue_median": groups["revenue"].median(),
            "revenue_mean": groups["revenue"].mean(),
            "revenue_max": groups["revenue"].max(),
            "relative_change_12m": groups["relative_change_12m"].median(),
            "cv": groups["cv"].median(),
            "residual_share": groups["residual_share"].median(),
            "activity": groups["activity"].median(),
            "seasonal_strength": groups["seasonal_strength"].median(),
            "share_declining": groups["declining"].mean(),
            "share_sharp": groups["sharp"].mean(),
        }
    )
    q50, q75 = np.nanquantile(revenue.to_numpy(), [0.5, 0.75])
    measures["portfolio_median"] = q50
    measures["portfolio_q75"] = q75
    return measures


Money = Callable[[float], str]


def _plain_money(value: float) -> str:
    return f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def value_word(m: pd.Series, money: Money = _plain_money) -> tuple[str, str]:
    """(word, why). High: the median customer is in the portfolio's top quarter. Mid: between
    its median and its top quarter. Low: in its lower half, and nobody in it has more than the
    top quarter's start or 3× the portfolio median. Mixed: in the lower half, with some large
    customers."""
    median, q50, q75 = m["revenue_median"], m["portfolio_median"], m["portfolio_q75"]
    typical = f"its median customer's revenue, {money(median)} a month,"
    if median >= q75:
        return "High value", f"{typical} is in the portfolio's top quarter (from {money(q75)})"
    if median > q50:
        return "Mid value", (
            f"{typical} is above the portfolio's median ({money(q50)}) and below its top "
            f"quarter (from {money(q75)})"
        )
    lower = f"{typical} is at or below the portfolio's median ({money(q50)})"
    cap = min(q75, NAMING.low_value_cap_of_median * q50)
    if m["revenue_max"] <= cap:
        return "Low value", f"{lower} and none of its customers has more than {money(cap)}"
    return "Mixed value", f"{lower} but its largest customer has {money(m['revenue_max'])}"


def trend_word(m: pd.Series) -> tuple[str, str]:
    declining = f"{_pct(m['share_declining'])} of its customers are at level 1 or worse"
    if m["share_sharp"] >= NAMING.sharp_share:
        return "declining sharply", f"{_pct(m['share_sharp'])} of its customers are at level 3"
    if m["share_declining"] >= NAMING.declining_share:
        return "declining", declining
    if m["share_declining"] >= NAMING.partly_declining_share:
        return (
            "partly declining",
            f"{declining} ({_pct(NAMING.partly_declining_share)} or more, "
            f"under {_pct(NAMING.declining_share)})",
        )
    change = m["relative_change_12m"]
    if pd.notna(change) and change >= NAMING.growing_change:
        return "growing", f"the median 12-month change is {change * 100:+.0f} % and {declining}"
    return "stable", declining


def pattern_word(m: pd.Series) -> tuple[str, str]:
    activity, seasonal, cv = m["activity"], m["seasonal_strength"], m["cv"]
    if pd.notna(activity) and activity < NAMING.occasional_activity:
        return (
            "occasional",
            f"the median customer had revenue in {_pct(activity)} of months "
            f"(under {_pct(NAMING.occasional_activity)})",
        )
    if pd.notna(seasonal) and seasonal >= NAMING.seasonal_strength:
        return (
            "seasonal",
            f"the median seasonal strength is {seasonal:.2f} "
            f"({NAMING.seasonal_strength:g} or more)",
        )
    if pd.isna(cv):
        return "variable", "its customers' variability is unknown"
    if cv >= NAMING.volatile_cv:
        return "volatile", f"the median CV is {cv:.2f} ({NAMING.volatile_cv:g} or more)"
    if cv <= NAMING.steady_cv:
        return "steady", f"the median CV is {cv:.2f} ({NAMING.steady_cv:g} or less)"
    return (
        "variable",
        f"the median CV is {cv:.2f} (between {NAMING.steady_cv:g} and {NAMING.volatile_cv:g})",
    )


def name_reasons(m: pd.Series, money: Money = _plain_money) -> list[tuple[str, str]]:
    """The name's three words, each with the figures that earned it."""
    return [value_word(m, money), trend_word(m), pattern_word(m)]


def segment_name(measures: pd.Series) -> str:
    """Three words, always in this order: "High value · declining · volatile"."""
    return " · ".join(word for word, _ in name_reasons(measures))

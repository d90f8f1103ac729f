"""Behavioural segments: KMeans on standardised per-customer features.

k comes from the silhouette score over 2..8 on a fixed sample unless the user sets it;
every random choice uses ``params.random_state``. Insufficient-data customers are not
clustered (label −1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .params import Params

SAMPLE = 3000
K_RANGE = range(2, 9)

# feature → (how it is computed from the figures, its words for low / high)
FEATURES: dict[str, tuple[str, str]] = {
    "log_revenue": ("Low value", "High value"),
    "relative_change_12m": ("declining", "growing"),
    "cv": ("steady", "volatile"),
    "residual_share": ("predictable", "erratic"),
    "activity": ("occasional", "regular"),
    "seasonal_strength": ("", "seasonal"),
}


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
                "residual_share": (figures["resid_std"].astype(float) / np.maximum(mean, 1.0)).clip(
                    0, 5
                ),
                "activity": figures["active_months"] / np.maximum(figures["n_months"], 1),
                "seasonal_strength": figures["seasonal_strength"].astype(float),
            },
            index=figures.index,
        )
    return features.fillna(features.median()).fillna(0.0)


def segment_portfolio(figures: pd.DataFrame, params: Params) -> SegmentResult:
    from sklearn.cluster import KMeans

    clustered = figures["decline_level"].notna().to_numpy()
    labels = np.full(len(figures), -1)
    features = segment_features(figures[clustered])
    if len(features) < 3:
        return SegmentResult(
            labels, _profiles(features, np.zeros(0, dtype=int), 0), 0, float("nan")
        )
    centre, scale = features.mean(), features.std(ddof=0).replace(0, 1.0)
    standardised = ((features - centre) / scale).to_numpy()
    k, silhouette = _choose_k(standardised, params)
    model = KMeans(n_clusters=k, n_init=4, random_state=params.random_state).fit(standardised)
    ordered = _order_by_value(model.labels_, features)
    labels[clustered] = ordered
    return SegmentResult(labels, _profiles(features, ordered, k), k, silhouette)


def _choose_k(standardised: np.ndarray, params: Params) -> tuple[int, float]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(params.random_state)
    sample = standardised
    if len(sample) > SAMPLE:
        sample = sample[np.sort(rng.choice(len(sample), SAMPLE, replace=False))]
    if params.segments:  # as asked, but never more segments than customers can make
        candidates = [min(params.segments, len(sample) - 1)]
    else:
        candidates = [k for k in K_RANGE if k < len(sample)]
    best_k, best_score = candidates[0], -1.0
    for k in candidates:
        labels = KMeans(n_clusters=k, n_init=3, random_state=params.random_state).fit_predict(
            sample
        )
        score = silhouette_score(sample, labels) if len(set(labels)) > 1 else -1.0
        if score > best_score:
            best_k, best_score = k, score
    return best_k, float(best_score)


def _order_by_value(labels: np.ndarray, features: pd.DataFrame) -> np.ndarray:
    """Number segments by mean revenue, largest first, so numbers are stable and meaningful."""
    means = features.groupby(labels)["log_revenue"].mean().sort_values(ascending=False)
    mapping = {old: new for new, old in enumerate(means.index)}
    return np.array([mapping[label] for label in labels])


def _profiles(features: pd.DataFrame, labels: np.ndarray, k: int) -> pd.DataFrame:
    if k == 0:
        return pd.DataFrame(columns=["number", "name", "size", *features.columns])
    means = features.groupby(labels).mean()
    spread = means.std(ddof=0).replace(0, 1.0)
    z = (means - means.mean()) / spread
    profiles = means.copy()
    profiles.insert(0, "size", pd.Series(labels).value_counts().sort_index().to_numpy())
    profiles.insert(0, "name", [segment_name(z.loc[i]) for i in means.index])
    profiles.insert(0, "number", means.index.to_numpy())
    for column in features.columns:
        profiles[f"z_{column}"] = z[column]
    return profiles.reset_index(drop=True)


def segment_name(z: pd.Series) -> str:
    """Three words from the most distinctive features: "High value · declining · volatile"."""
    value = FEATURES["log_revenue"][1] if z["log_revenue"] >= 0 else FEATURES["log_revenue"][0]
    words = [value]
    ranked = z.drop("log_revenue").abs().sort_values(ascending=False)
    for feature in ranked.index:
        low, high = FEATURES[feature]
        word = high if z[feature] > 0 else low
        if word and len(words) < 3:
            words.append(word)
    return " · ".join(words)

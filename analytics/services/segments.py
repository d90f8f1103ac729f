"""The segments page's data: what a run stored about its segments, read, never recomputed.

Two queries whatever the number of segments: the run's Segment rows (names, sizes, the
figures each name comes from, in the export's units, and the z-scored profile the radar
draws) and one aggregate over the run's results grouped by segment and level (the level
mix). The only arithmetic is presentation: shares of the run's customers and percentages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pandas as pd
from django.db.models import Count

from analytics.core.segments import name_reasons
from analytics.models import AnalysisRun, CustomerResult, Segment
from revtrend_site.numbers import format_money

LEVELS: tuple[int, ...] = (0, 1, 2, 3)
# The stored figures a segment's name is judged from; runs before 2026-12 lack them.
NAMED_FROM = ("revenue_median", "revenue_max", "portfolio_median", "portfolio_q75",
              "share_declining", "share_sharp")  # fmt: skip
LevelCounts = tuple[int, int, int, int]  # a count per level of LEVELS
# Segment colours --segment-0..7 in the stylesheet, shared by the radar and the table.
PALETTE_SIZE = 8

# The radar's axes: the profile's keys (analytics.core.segments.FEATURES; a test keeps
# them in step) and their labels.
AXES: dict[str, str] = {
    "log_revenue": "Revenue",
    "relative_change_12m": "12-month change",
    "cv": "Volatility (CV)",
    "residual_share": "Residual share",
    "activity": "Activity",
    "seasonal_strength": "Seasonality",
}


@dataclass(frozen=True)
class LevelMix:
    """How many of a segment's customers are at each decline level."""

    counts: LevelCounts  # levels 0..3
    insufficient: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts) + self.insufficient

    @property
    def summary(self) -> str:
        """The mix in words, for a screen reader: "level 0: 12, level 3: 2"."""
        named = [*(f"level {level}" for level in LEVELS), "insufficient data"]
        values = [*self.counts, self.insufficient]
        return ", ".join(f"{n}: {c}" for n, c in zip(named, values, strict=True) if c)

    def parts(self) -> list[dict]:
        """Levels 0..3 then insufficient data, each with its count, its share of the total
        and where its piece of the bar starts (the share of the levels before it)."""
        keys = [*(str(level) for level in LEVELS), "none"]
        values = [*self.counts, self.insufficient]
        total = self.total or 1
        parts, start = [], 0
        for key, count in zip(keys, values, strict=True):
            parts.append(
                {
                    "level": key,
                    "count": count,
                    "percent": round(100 * count / total, 2),
                    "start": round(100 * start / total, 2),
                }
            )
            start += count
        return parts


@dataclass(frozen=True)
class SegmentRow:
    number: int
    name: str
    size: int
    share: float | None  # of the run's customers
    # Medians over the segment's customers of their exported figures (revenue_mean,
    # relative_change_12m, cv, active_months / n_months, seasonal_strength; empty ones left
    # out), and the plain mean of their revenue_mean. None for a run from before they were kept.
    median_revenue: float | None
    mean_revenue: float | None
    relative_change_12m: float | None
    cv: float | None
    residual_share: float | None
    activity: float | None  # share of months with revenue
    seasonal_strength: float | None
    share_declining: float | None  # at level 1 or worse
    share_sharp: float | None  # at level 3
    portfolio_median: float | None  # of every segmented customer's revenue_mean
    portfolio_q75: float | None
    profile: dict[str, float | None]
    mix: LevelMix
    # The name's words, each with the figures that earned it (analytics.core.segments).
    reasons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def share_percent(self) -> float | None:
        return None if self.share is None else 100 * self.share

    @property
    def colour(self) -> int:
        return self.number % PALETTE_SIZE

    @property
    def activity_percent(self) -> float | None:
        return None if self.activity is None else 100 * self.activity

    @property
    def share_declining_percent(self) -> float | None:
        return None if self.share_declining is None else 100 * self.share_declining


@dataclass(frozen=True)
class SegmentOverview:
    run: AnalysisRun
    rows: list[SegmentRow]
    # Customers in no segment (insufficient data is not clustered), with their level mix.
    unsegmented: LevelMix = field(default_factory=lambda: LevelMix((0, 0, 0, 0)))

    @property
    def unsegmented_share_percent(self) -> float | None:
        customers = self.run.customers_count
        return 100 * self.unsegmented.total / customers if customers else None

    def radar_data(self) -> dict:
        """What static/js/segments_chart.js draws: one trace per segment over AXES."""
        return {
            "axes": list(AXES.values()),
            "keys": list(AXES),
            "segments": [
                {
                    "number": row.number,
                    "name": row.name,
                    "size": row.size,
                    "values": [row.profile.get(key) for key in AXES],
                }
                for row in self.rows
            ],
        }


def segment_overview(*, run: AnalysisRun, currency: str = "") -> SegmentOverview:
    """``currency``: the team's code, for the amounts in the names' reasons."""
    mixes = _level_mixes(run)
    segments = Segment.objects.filter(run=run).order_by("number")
    rows = [_row(segment, run, mixes.pop(segment.number, None), currency) for segment in segments]
    unsegmented = mixes.pop(None, LevelMix((0, 0, 0, 0)))
    return SegmentOverview(run=run, rows=rows, unsegmented=unsegmented)


def _level_mixes(run: AnalysisRun) -> dict[int | None, LevelMix]:
    """{segment (None: no segment): its level mix}, as counted when the run finished, or
    from one grouped count for a run finished before those counts were kept."""
    if run.segment_level_mix:
        return {
            None if key == "none" else int(key): LevelMix(tuple(counts[:4]), counts[4])
            for key, counts in run.segment_level_mix.items()
        }
    grouped = (
        CustomerResult.objects.filter(run=run)
        .values_list("segment", "decline_level")
        .annotate(customers=Count("pk"))
        .order_by()
    )
    counts: dict[int | None, dict[int | None, int]] = {}
    for segment, level, customers in grouped:
        counts.setdefault(segment, {})[level] = customers
    return {
        segment: LevelMix(
            cast(LevelCounts, tuple(by_level.get(level, 0) for level in LEVELS)),
            by_level.get(None, 0),
        )
        for segment, by_level in counts.items()
    }


def _row(
    segment: Segment, run: AnalysisRun, mix: LevelMix | None, currency: str = ""
) -> SegmentRow:
    features = segment.features or {}
    return SegmentRow(
        number=segment.number,
        name=segment.name,
        size=segment.size,
        share=segment.size / run.customers_count if run.customers_count else None,
        median_revenue=features.get("revenue_median"),
        mean_revenue=features.get("revenue_mean"),
        relative_change_12m=features.get("relative_change_12m"),
        cv=features.get("cv"),
        residual_share=features.get("residual_share"),
        activity=features.get("activity"),
        seasonal_strength=features.get("seasonal_strength"),
        share_declining=features.get("share_declining"),
        share_sharp=features.get("share_sharp"),
        portfolio_median=features.get("portfolio_median"),
        portfolio_q75=features.get("portfolio_q75"),
        profile=dict(segment.profile or {}),
        mix=mix or LevelMix((0, 0, 0, 0)),
        reasons=_reasons(features, currency),
    )


def _reasons(features: dict, currency: str) -> list[tuple[str, str]]:
    if any(features.get(key) is None for key in NAMED_FROM):
        return []  # a run from before names were explained
    return name_reasons(
        pd.Series(features, dtype=float), lambda value: format_money(value, currency)
    )

"""RevTrend's statistical method (docs/method.md): pure numpy / pandas / scipy / statsmodels /
scikit-learn, no Django. Takes a customers × months matrix and parameters, returns
arrays and data frames; the same input and parameters give identical output."""

from __future__ import annotations

from .analyze import CHART_SERIES, UNJUDGED, CoreResult, analyze_portfolio, span_lengths
from .params import ANOMALY_COLUMNS, FIGURES, Params
from .segments import SegmentResult, segment_portfolio

__all__ = [
    "ANOMALY_COLUMNS",
    "CHART_SERIES",
    "FIGURES",
    "UNJUDGED",
    "CoreResult",
    "Params",
    "SegmentResult",
    "analyze_portfolio",
    "segment_portfolio",
    "span_lengths",
]

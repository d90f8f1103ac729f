"""Analysis runs: start, chunks on Celery, finish, export (see each module)."""

from __future__ import annotations

from analytics.models import current_run

from .chunks import analysis_chunk_run, analysis_chunks_run_here
from .errors import AnalysisError, RunInProgress
from .export import ANOMALY_EXPORT_COLUMNS, RESULT_COLUMNS, anomalies_export, results_export
from .finish import WAITING, analysis_run_finish, read_figures
from .matrix import RevenueMatrix, revenue_matrix_read
from .runs import (
    MAX_SEGMENTS,
    analysis_chunks_queue,
    analysis_run_claim,
    analysis_run_fail,
    analysis_run_plan,
    analysis_run_start,
    analysis_run_wait,
    params_from_dict,
    results_are_current,
    run_for_team,
    run_summary,
    runs_for_team,
)
from .window import Window, analysis_window, is_partial_month, parse_month

__all__ = [
    "ANOMALY_EXPORT_COLUMNS",
    "MAX_SEGMENTS",
    "RESULT_COLUMNS",
    "WAITING",
    "AnalysisError",
    "RevenueMatrix",
    "RunInProgress",
    "Window",
    "analysis_chunk_run",
    "analysis_chunks_queue",
    "analysis_chunks_run_here",
    "analysis_run_claim",
    "analysis_run_fail",
    "analysis_run_finish",
    "analysis_run_plan",
    "analysis_run_start",
    "analysis_run_wait",
    "analysis_window",
    "anomalies_export",
    "current_run",
    "is_partial_month",
    "params_from_dict",
    "parse_month",
    "read_figures",
    "results_are_current",
    "results_export",
    "revenue_matrix_read",
    "run_for_team",
    "run_summary",
    "runs_for_team",
]

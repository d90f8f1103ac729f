"""One chunk of a run: read its rows of the matrix, call the core, write its results.

Safe to run twice. The results are computed without holding anything, then written in one
transaction that locks the chunk row, re-checks that the chunk is still PENDING and the run
still RUNNING, replaces whatever rows the chunk's customer range has (delete, then COPY) and
marks the chunk DONE. A second delivery finds the chunk DONE and writes nothing; a delivery
that died half-way rolled everything back and the next one starts clean.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from analytics.core import CoreResult, analyze_portfolio
from analytics.models import (
    COMPONENTS,
    AnalysisChunk,
    AnalysisRun,
    Anomaly,
    ChunkStatus,
    CustomerResult,
    RunStatus,
    pack_series,
)
from revtrend_site.bulk import load_frame

from .dashboard import level_month_revenue
from .matrix import RevenueMatrix, revenue_matrix_read
from .runs import CHUNKS_PROGRESS, PLANNED_PROGRESS, analysis_run_fail, run_params
from .sql import binary_column, nullable_dates, nullable_floats, nullable_ints

logger = logging.getLogger(__name__)
IN_PROCESS_CHUNK_THREADS = 2

RESULTS = CustomerResult._meta.db_table
ANOMALIES = Anomaly._meta.db_table
MONEY = ("revenue_mean", "revenue_std", "revenue_at_risk", "expected_revenue_12m")
FLOATS = (
    "slope",
    "slope_low",
    "slope_high",
    "relative_change_12m",
    "p_value",
    "cv",
    "resid_std",
    "seasonal_strength",
    "p_active",
)
COUNTS = ("active_months", "n_months", "anomaly_count")


class _Skip(Exception):
    """Nothing to write after all (the message says why); the transaction rolls back."""


def analysis_chunk_run(*, run_id: int, number: int) -> str:
    chunks = AnalysisChunk.objects.select_related("run")
    chunk = chunks.filter(run_id=run_id, number=number).first()
    if chunk is None or chunk.status != ChunkStatus.PENDING:
        return "skipped: chunk already done"
    if chunk.run.status != RunStatus.RUNNING:
        return f"skipped: run is {chunk.run.status}"
    _signal_start(chunk)
    try:
        return _analyse(chunk)
    except Exception as exc:  # the run fails with the reason; no chunk stays half-written
        logger.exception("Run %s chunk %s failed", run_id, number)
        AnalysisChunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.FAILED, error=str(exc)[:4000], finished_at=timezone.now()
        )
        analysis_run_fail(
            run_id=run_id,
            error=f"Chunk {number + 1} of {chunk.run.chunks_total} failed "
            f"({type(exc).__name__}): {exc}",
        )
        return "failed"


def _signal_start(chunk: AnalysisChunk) -> None:
    """Count the attempt and show the run alive (the watchdog reads both)."""
    AnalysisChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    AnalysisRun.objects.filter(pk=chunk.run_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def analysis_chunks_run_here(*, run_id: int, numbers: list[int]) -> list[str]:
    """Run a run's chunks in this process (no broker): side by side on PostgreSQL, as two
    workers would — one chunk's database reads and writes overlap the other's computing —
    and one after another where threads cannot share the data (SQLite, or inside an open
    transaction such as a test's, whose rows other connections cannot see)."""
    alone = IN_PROCESS_CHUNK_THREADS < 2 or len(numbers) < 2
    if alone or connection.vendor != "postgresql" or connection.in_atomic_block:
        return [analysis_chunk_run(run_id=run_id, number=number) for number in numbers]

    def one(number: int) -> str:
        try:
            return analysis_chunk_run(run_id=run_id, number=number)
        finally:
            connections.close_all()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=IN_PROCESS_CHUNK_THREADS) as pool:
        return list(pool.map(one, numbers))


def _analyse(chunk: AnalysisChunk) -> str:
    run = chunk.run
    # Durations per stage, and the wall-clock second the chunk began (time.time(): comparable
    # across processes and hosts, so finish can tell how the chunks' stages overlapped).
    timings: dict[str, float] = {"began": round(time.time(), 3)}
    clock = time.perf_counter()
    matrix = revenue_matrix_read(
        team_id=run.team_id,
        window_start=run.window_start,
        window_end=run.window_end,
        first_customer_id=chunk.first_customer_id,
        last_customer_id=chunk.last_customer_id,
    )
    timings["read"], clock = _lap(clock)
    result = analyze_portfolio(matrix.values, matrix.months, run_params(run))
    revenue = level_month_revenue(matrix.values, result.figures["decline_level"])
    timings["compute"], clock = _lap(clock)
    results, anomalies = result_frames(run_id=run.pk, matrix=matrix, result=result)
    try:
        _write(chunk, results, anomalies, timings, clock, revenue)
    except _Skip as skip:
        return f"skipped: {skip}"
    return "done"


def _lap(clock: float) -> tuple[float, float]:
    now = time.perf_counter()
    return round(now - clock, 4), now


def result_frames(
    *, run_id: int, matrix: RevenueMatrix, result: CoreResult
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The core's output as rows of CustomerResult and Anomaly (column = table column)."""
    figures = result.figures
    ids = matrix.customer_ids
    results = pd.DataFrame({"run_id": run_id, "customer_id": ids})
    results["decline_level"] = nullable_ints(figures["decline_level"])
    for name in FLOATS:
        results[name] = nullable_floats(figures[name])
    for name in MONEY:
        results[name] = nullable_floats(figures[name], places=2)
    results["revenue_at_risk"] = results["revenue_at_risk"].fillna(0.0)
    for name in COUNTS:
        results[name] = figures[name].fillna(0).to_numpy(dtype=np.int64)
    results["churned"] = figures["churned"].fillna(False).to_numpy(dtype=bool)
    results["onset_month"] = nullable_dates(figures["onset_month"])
    results["explanation"] = figures["explanation"].fillna("").astype(str).to_numpy(dtype=object)
    stacked = np.stack([result.components[name] for name in COMPONENTS], axis=1)
    results["components"] = binary_column(pack_series(stacked))

    found = result.anomalies
    anomalies = pd.DataFrame(
        {
            "run_id": run_id,
            "customer_id": ids[found["row"].to_numpy(dtype=np.int64)],
            "month": nullable_dates(found["month"]),
            "revenue": nullable_floats(found["revenue"], places=2),
            "expected": nullable_floats(found["expected"], places=2),
            "zscore": nullable_floats(found["zscore"]),
        }
    )
    return results, anomalies


def _write(chunk, results, anomalies, timings, clock, revenue: list[list[float]]) -> None:
    run_id = chunk.run_id
    with transaction.atomic():
        locked = AnalysisChunk.objects.select_for_update().get(pk=chunk.pk)
        if locked.status != ChunkStatus.PENDING:
            raise _Skip("chunk written by another delivery")
        span = [run_id, chunk.first_customer_id, chunk.last_customer_id]
        with connection.cursor() as cursor:
            for table in (ANOMALIES, RESULTS):
                cursor.execute(
                    f"DELETE FROM {table} WHERE run_id = %s AND customer_id >= %s "
                    "AND customer_id <= %s",
                    span,
                )
            load_frame(
                cursor, RESULTS, tuple(results.columns), results, text_columns=("explanation",)
            )
            if len(anomalies):
                load_frame(cursor, ANOMALIES, tuple(anomalies.columns), anomalies)
        timings["write"], _ = _lap(clock)
        _mark_done(chunk, len(results), timings, revenue)


def _mark_done(chunk: AnalysisChunk, customers: int, timings: dict, revenue: list) -> None:
    now = timezone.now()
    AnalysisChunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.DONE,
        customers_count=customers,
        timings=timings,
        level_month_revenue=revenue,
        finished_at=now,
    )
    # The conditional update is the guard: a run failed meanwhile rolls this chunk back.
    runs = AnalysisRun.objects.filter(pk=chunk.run_id, status=RunStatus.RUNNING)
    if not runs.update(chunks_done=F("chunks_done") + 1, heartbeat_at=now):
        raise _Skip("run no longer running")
    done, total = runs.values_list("chunks_done", "chunks_total").get()
    runs.update(progress=PLANNED_PROGRESS + CHUNKS_PROGRESS * done // max(total, 1))

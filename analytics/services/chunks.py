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
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

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
READ_AHEAD = True  # False: in-process chunks strictly one after another (tests compare)

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
    return _analyse_read(run_id, number, None)


def _claim(run_id: int, number: int) -> AnalysisChunk | str:
    """The chunk to analyse, or why there is nothing to do. Counts the attempt and shows
    the run alive (the watchdog reads both)."""
    chunks = AnalysisChunk.objects.select_related("run")
    chunk = chunks.filter(run_id=run_id, number=number).first()
    if chunk is None or chunk.status != ChunkStatus.PENDING:
        return "skipped: chunk already done"
    if chunk.run.status != RunStatus.RUNNING:
        return f"skipped: run is {chunk.run.status}"
    AnalysisChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    AnalysisRun.objects.filter(pk=chunk.run_id, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )
    return chunk


def _failed(chunk: AnalysisChunk, exc: Exception) -> str:
    logger.error("Run %s chunk %s failed", chunk.run_id, chunk.number, exc_info=exc)
    AnalysisChunk.objects.filter(pk=chunk.pk).update(
        status=ChunkStatus.FAILED, error=str(exc)[:4000], finished_at=timezone.now()
    )
    analysis_run_fail(
        run_id=chunk.run_id,
        error=f"Chunk {chunk.number + 1} of {chunk.run.chunks_total} failed "
        f"({type(exc).__name__}): {exc}",
    )
    return "failed"


def analysis_chunks_run_here(*, run_id: int, numbers: list[int]) -> list[str]:
    """Run a run's chunks in this process (no broker), one after another. On PostgreSQL a
    thread reads the next chunk's revenue while the core computes the current one (on both
    cores), so the read's work in PostgreSQL overlaps the computing.

    Measured at 100,000 customers (benchmarks/analyze.py): chunks 12.2–12.4 s on the
    clock, peak 740 MiB; strictly one after another 14.3 s, 680 MiB; two chunks side by
    side (before) 12.8–14.8 s, 1,000 MiB — their Python halves queued for the interpreter
    lock; writing behind in a third thread as well: 12.5–14.6 s, 820 MiB. Strictly one
    after another where threads cannot share the data (SQLite, or inside an open
    transaction such as a test's, whose rows other connections cannot see)."""
    alone = not READ_AHEAD or len(numbers) < 2 or connection.vendor != "postgresql"
    if alone or connection.in_atomic_block:
        return [analysis_chunk_run(run_id=run_id, number=number) for number in numbers]
    outcomes = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunk-read") as reader:
        ahead = reader.submit(_read_ahead, run_id, numbers[0])
        for number, following in zip(numbers, [*numbers[1:], None], strict=True):
            current = ahead
            if following is not None:
                ahead = reader.submit(_read_ahead, run_id, following)
            outcomes.append(_analyse_read(run_id, number, current))
        reader.submit(connections.close_all)  # the reader's own connection
    return outcomes


def _read_ahead(run_id: int, number: int) -> _Read | None:
    chunk = AnalysisChunk.objects.select_related("run").filter(run_id=run_id, number=number).first()
    return None if chunk is None else _read(chunk)


def _analyse_read(run_id: int, number: int, read: Future[_Read | None] | None) -> str:
    chunk = _claim(run_id, number)
    if isinstance(chunk, str):
        return chunk
    try:
        return _store(_compute(chunk, (read and read.result()) or _read(chunk)))
    except Exception as exc:  # the run fails with the reason; no chunk stays half-written
        return _failed(chunk, exc)


class _Read(NamedTuple):
    matrix: RevenueMatrix
    began: float  # time.time(): comparable across processes and hosts
    seconds: float


class _Computed(NamedTuple):
    chunk: AnalysisChunk
    timings: dict[str, float]
    result: CoreResult
    matrix: RevenueMatrix
    revenue: list[list[float]]


def _read(chunk: AnalysisChunk) -> _Read:
    run = chunk.run
    began, clock = time.time(), time.perf_counter()
    matrix = revenue_matrix_read(
        team_id=run.team_id,
        window_start=run.window_start,
        window_end=run.window_end,
        first_customer_id=chunk.first_customer_id,
        last_customer_id=chunk.last_customer_id,
    )
    return _Read(matrix, began, time.perf_counter() - clock)


def _compute(chunk: AnalysisChunk, read: _Read) -> _Computed:
    # Per stage its duration and the wall-clock second it began, so that finish can tell
    # how the chunks' stages overlapped (chunk_walls).
    timings = _stage({}, "read", read.began, read.seconds)
    began, clock = time.time(), time.perf_counter()
    result = analyze_portfolio(read.matrix.values, read.matrix.months, run_params(chunk.run))
    revenue = level_month_revenue(read.matrix.values, result.figures["decline_level"])
    _stage(timings, "compute", began, time.perf_counter() - clock)
    return _Computed(chunk, timings, result, read.matrix, revenue)


def _store(computed: _Computed) -> str:
    chunk = computed.chunk
    began, clock = time.time(), time.perf_counter()
    results, anomalies = result_frames(
        run_id=chunk.run_id, matrix=computed.matrix, result=computed.result
    )
    try:
        _write(chunk, results, anomalies, computed.timings, began, clock, computed.revenue)
    except _Skip as skip:
        return f"skipped: {skip}"
    return "done"


def _stage(timings: dict[str, float], stage: str, began: float, seconds: float) -> dict:
    timings[f"{stage}_began"] = round(began, 3)
    timings[stage] = round(seconds, 4)
    timings.setdefault("began", round(began, 3))
    return timings


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


def _write(chunk, results, anomalies, timings, began, clock, revenue: list[list[float]]) -> None:
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
        _stage(timings, "write", began, time.perf_counter() - clock)
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

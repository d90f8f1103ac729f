"""The end of a run: segments, counts, timings, SUCCEEDED — in one transaction."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from analytics.core import FIGURES, SegmentResult, segment_portfolio
from analytics.models import (
    AnalysisChunk,
    AnalysisRun,
    Anomaly,
    ChunkStatus,
    CustomerResult,
    RunPurpose,
    RunStatus,
    Segment,
)
from analytics.signals import run_succeeded
from revtrend_site.bulk import analyze_tables, create_stage, load_frame
from revtrend_site.signals import announce

from .dashboard import movers_for_finished_run, summary_for_finished_run
from .partitions import is_partitioned, partition_analyze, partition_index_begin
from .runs import CHUNK_STAGES, analysis_run_fail, run_params
from .sql import read_frame

logger = logging.getLogger(__name__)

RESULTS = CustomerResult._meta.db_table
STAGE_SEGMENTS = "revtrend_stage_segments"
# What segmenting reads back: every figure but the sentence.
READ_BACK = tuple(name for name in FIGURES if name != "explanation")
WAITING = "waiting"


def analysis_run_finish(*, run_id: int) -> str:
    """Segment and finish a run whose chunks are all written.

    Returns the run's new status, "skipped: …" when there is nothing to do (finished, or
    failed by a chunk), or WAITING when chunks are still being written (a chord body
    triggered early by a task delivered twice): the task then retries."""
    run = AnalysisRun.objects.filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING:
        return f"skipped: run is {run.status if run else 'gone'}"
    if AnalysisChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).exists():
        return WAITING
    try:
        return _finish(run)
    except Exception as exc:
        logger.exception("Finishing analysis run %s failed", run_id)
        analysis_run_fail(run_id=run_id, error=f"Segmenting failed ({type(exc).__name__}): {exc}")
        return RunStatus.FAILED


def _finish(run: AnalysisRun) -> str:
    clock = time.perf_counter()
    AnalysisRun.objects.filter(pk=run.pk).update(stage="segmenting", progress=92)
    # The run's own partition gets its indexes while its figures are segmented, and before
    # the run succeeds: no page ever reads an unindexed run.
    indexes_built = partition_index_begin(run_id=run.pk)
    try:
        customer_ids, figures = read_figures(run_id=run.pk)
        segments = segment_portfolio(figures, run_params(run))
        segment_seconds = time.perf_counter() - clock
    finally:
        index_seconds = indexes_built()
    chunk_revenue = AnalysisChunk.objects.filter(run=run).order_by("number")
    summary = summary_for_finished_run(
        figures=figures,
        chunk_revenue=list(chunk_revenue.values_list("level_month_revenue", flat=True)),
    )
    with transaction.atomic():
        locked = AnalysisRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != RunStatus.RUNNING:
            return f"skipped: run is {locked.status}"
        _write_segments(run, customer_ids, segments)
        finished = timezone.now()
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED,
            stage="done",
            progress=100,
            finished_at=finished,
            heartbeat_at=finished,
            customers_count=len(figures),
            segments_count=segments.k,
            silhouette=_finite_or_none(segments.silhouette),
            segment_level_mix=_segment_level_mix(figures, segments.labels),
            summary=summary,
            timings=_timings(
                locked,
                {"index": index_seconds, "segment": segment_seconds},
                time.perf_counter() - clock,
                finished,
            ),
            notes=[*locked.notes, *_segment_notes(run_params(run), segments)],
            **_counts(figures),
        )
        transaction.on_commit(lambda: _announce(run.pk))
    _refresh_statistics(run.pk)
    if run.purpose == RunPurpose.ANALYSIS:  # a backtest's runs are never on a dashboard
        _store_movers(run, summary)
    return RunStatus.SUCCEEDED


def _store_movers(run: AnalysisRun, summary: dict) -> None:
    """The movers join two runs' results, so they are taken once the statistics are fresh;
    until then (a moment) a dashboard computes them itself. A failure here costs the stored
    copy only, never the run."""
    clock = time.perf_counter()
    try:
        movers = movers_for_finished_run(run=run)
    except Exception:
        logger.exception("Storing the movers of run %s failed; dashboards compute them", run.pk)
        return
    AnalysisRun.objects.filter(pk=run.pk).update(summary={**summary, "movers": movers})
    logger.debug("Run %s: movers stored in %.2f s", run.pk, time.perf_counter() - clock)


def _announce(run_id: int) -> None:
    """Tell the listeners (alerts, schedules); a listener's failure is logged, never the
    run's: its results stand."""
    announce(run_succeeded, AnalysisRun, run=AnalysisRun.objects.get(pk=run_id))


def _segment_notes(params, segments: SegmentResult) -> list[str]:
    if not params.segments or segments.k >= params.segments:
        return []
    return [
        f"{params.segments} segments were asked for; {segments.k or 'none'} could be made from the "
        "customers with enough history to cluster."
    ]


def _refresh_statistics(run_id: int) -> None:
    """A run adds up to a whole portfolio of rows at once; without fresh statistics the
    planner guessed 95 rows for 75,000 and joined before sorting (measured 4× slower risk
    pages). Autovacuum may be off or late, so the run asks for them itself: for its own
    partition where results are stored per run (the whole table's would sample them all)."""
    if not is_partitioned():
        analyze_tables(CustomerResult, Anomaly)
        return
    analyze_tables(Anomaly)
    partition_analyze(run_id=run_id)


def read_figures(*, run_id: int) -> tuple[np.ndarray, pd.DataFrame]:
    """A run's figures as the core returned them, in customer id order (one query)."""
    columns = ", ".join(
        f"CAST({name} AS DOUBLE PRECISION)"
        if name in ("revenue_mean", "revenue_std", "revenue_at_risk")
        else f"CASE WHEN {name} THEN 1 ELSE 0 END"
        if name == "churned"
        else name
        for name in READ_BACK
    )
    frame = read_frame(
        f"SELECT customer_id, {columns} FROM {RESULTS} WHERE run_id = %s ORDER BY customer_id",
        [run_id],
        ("customer_id", *READ_BACK),
    )
    figures = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name in READ_BACK:
        figures[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    figures["decline_level"] = figures["decline_level"].astype("Int64")
    figures["churned"] = figures["churned"].astype(bool)
    figures["onset_month"] = pd.to_datetime(frame["onset_month"])
    for name in ("active_months", "n_months", "anomaly_count"):
        figures[name] = figures[name].fillna(0).astype(np.int64)
    return frame["customer_id"].to_numpy(dtype=np.int64), figures


def _write_segments(run: AnalysisRun, customer_ids: np.ndarray, segments: SegmentResult) -> None:
    Segment.objects.filter(run=run).delete()
    Segment.objects.bulk_create(_segment_rows(run, segments.profiles))
    labels = np.asarray(segments.labels)
    clustered = labels >= 0
    if not clustered.any():
        return
    stage = pd.DataFrame(
        {"customer_id": customer_ids[clustered], "segment": labels[clustered].astype(np.int64)}
    )
    with connection.cursor() as cursor:
        create_stage(cursor, STAGE_SEGMENTS, "customer_id bigint NOT NULL, segment integer")
        load_frame(cursor, STAGE_SEGMENTS, ("customer_id", "segment"), stage)
        # One set-based UPDATE for the whole run.
        cursor.execute(
            f"UPDATE {RESULTS} SET segment = s.segment FROM {STAGE_SEGMENTS} s "
            f"WHERE {RESULTS}.run_id = %s AND {RESULTS}.customer_id = s.customer_id",
            [run.pk],
        )
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_SEGMENTS}")


def _segment_rows(run: AnalysisRun, profiles: pd.DataFrame) -> list[Segment]:
    feature_columns = [
        c
        for c in profiles.columns
        if c not in ("number", "name", "size") and not c.startswith("z_")
    ]
    rows = []
    for record in profiles.to_dict("records"):
        rows.append(
            Segment(
                run=run,
                number=int(record["number"]),
                name=str(record["name"])[:200],
                size=int(record["size"]),
                features={c: _finite_or_none(record[c]) for c in feature_columns},
                profile={
                    c[2:]: _finite_or_none(record[c])
                    for c in profiles.columns
                    if c.startswith("z_")
                },
            )
        )
    return rows


def _finite_or_none(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _segment_level_mix(figures: pd.DataFrame, labels) -> dict[str, list[int]]:
    """{segment number or "none": [customers at level 0, 1, 2, 3, insufficient data]}."""
    levels = figures["decline_level"].to_numpy(dtype=np.float64, na_value=np.nan)
    column = np.where(np.isnan(levels), 4, np.nan_to_num(levels)).astype(np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    mix = {}
    for label in np.unique(labels):
        counts = np.bincount(column[labels == label], minlength=5)
        mix["none" if label < 0 else str(int(label))] = [int(c) for c in counts]
    return mix


def _counts(figures: pd.DataFrame) -> dict[str, int]:
    levels = figures["decline_level"]
    counts = {f"level_{level}_count": int((levels == level).sum()) for level in range(4)}
    counts["insufficient_count"] = int(levels.isna().sum())
    counts["anomalies_count"] = int(figures["anomaly_count"].sum())
    return counts


def _timings(
    run: AnalysisRun, parts: dict[str, float], finish: float, finished
) -> dict[str, float]:
    timings = dict(run.timings or {})
    chunk_timings = list(AnalysisChunk.objects.filter(run=run).values_list("timings", flat=True))
    for stage in CHUNK_STAGES:
        timings[stage] = round(sum(t.get(stage, 0.0) for t in chunk_timings), 3)
    timings.update(chunk_walls(chunk_timings))
    timings.update({name: round(seconds, 3) for name, seconds in parts.items()})
    timings["finish"] = round(finish, 3)
    if run.started_at:
        timings["total"] = round((finished - run.started_at).total_seconds(), 3)
    return timings


def chunk_walls(chunk_timings: list[dict]) -> dict[str, float]:
    """How long the chunks took on the clock, as a whole ("chunks": first start to last end)
    and per stage ("read_wall"…: the union of the chunks' intervals of that stage), where the
    stage sums ("read"…) count each chunk's seconds even when chunks ran side by side or a
    stage of one overlapped another's (a chunk read ahead while the previous one computed).
    A stage starts when it recorded it began ("read_began"…), else where the chunk's previous
    stage ended. Empty when a chunk did not record when it began (written before it did)."""
    if not chunk_timings or any("began" not in t for t in chunk_timings):
        return {}
    intervals: dict[str, list[tuple[float, float]]] = {stage: [] for stage in CHUNK_STAGES}
    starts, ends = [], []
    for t in chunk_timings:
        end = t["began"]
        for stage in CHUNK_STAGES:
            start = t.get(f"{stage}_began", end)
            end = start + t.get(stage, 0.0)
            intervals[stage].append((start, end))
            starts.append(start)
            ends.append(end)
    walls = {"chunks": round(max(ends) - min(starts), 3)}
    for stage, spans in intervals.items():
        walls[f"{stage}_wall"] = round(_union_length(spans), 3)
    return walls


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total

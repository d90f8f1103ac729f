"""Analysis runs: start (queue), claim, plan into chunks, fail, wait."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from celery import chain, chord
from celery.backends.base import DisabledBackend
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import Team
from analytics.core import Params
from analytics.models import (
    ACTIVE,
    AnalysisChunk,
    AnalysisRun,
    ChunkStatus,
    CustomerResult,
    RunPurpose,
    RunStatus,
    current_run,
)
from audit.services import audit_record
from customers.models import Upload, UploadStatus
from revtrend_site.celery import app as celery_app
from revtrend_site.queueing import QueueUnavailable, enqueue_on_commit, task_named, wait_finished

from .errors import AnalysisError, RunInProgress
from .matrix import window_customers
from .purchase import purchase_model_fit
from .window import Window, add_months, analysis_window

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# The run's tasks, queued by name (analytics/tasks.py imports this module, not the reverse).
RUN_TASK = "analytics.tasks.analysis_run_task"
CHUNK_TASK = "analytics.tasks.analysis_chunk_task"
FINISH_TASK = "analytics.tasks.analysis_finish_task"

PLANNED_PROGRESS = 5  # progress once the chunks are queued; chunks take it to 90
CHUNKS_PROGRESS = 85
MAX_SEGMENTS = 20  # the most segments a user may ask for (the runs form, the analyze command)
# Chunk stages are summed over chunks, which may run side by side: "total" is wall-clock.
# The stages one after another (read, compute and write summed over the chunks), each with
# the parts of it that are recorded on their own: (stage, ((part, label), …)).
TIMING_STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("plan", (("purchase_fit", "purchase model"),)),
    ("read", ()),
    ("compute", ()),
    ("write", ()),
    ("finish", (("index", "indexing"), ("segment", "segmenting"))),
)
CHUNK_STAGES = ("read", "compute", "write")


def timing_summary(timings: dict[str, float]) -> str:
    """A run's seconds as stages that add up to its total.

    With the chunks' wall-clock (runs since 2026-12): "plan 0.45 (purchase model 0.09),
    chunks 14.20 on the clock (read 4.88, compute 10.03, write 12.77 of work in all chunks;
    on the clock read 2.50, compute 6.10, write 7.00), finish 2.29 (indexing 0.90, segmenting 1.41);
    waiting 0.10; total 18.70" — plan + chunks + finish + waiting = total, and the chunks'
    work exceeds their clock time by what ran side by side. Older runs: the stage sums, with
    the rest as waiting or, when chunks overlapped, as time saved."""
    if "chunks" in timings:
        return _walled_summary(timings)
    parts, summed = [], 0.0
    for stage, inner in TIMING_STAGES:
        if stage not in timings:
            continue
        summed += timings[stage]
        parts.append(_stage_text(timings, stage, inner))
    return _with_total(", ".join(parts), timings.get("total"), summed)


def _stage_text(timings: dict[str, float], stage: str, inner: tuple[tuple[str, str], ...]) -> str:
    text = f"{stage} {timings[stage]:.2f}"
    parts = [f"{label} {timings[part]:.2f}" for part, label in inner if part in timings]
    return f"{text} ({', '.join(parts)})" if parts else text


def _walled_summary(timings: dict[str, float]) -> str:
    work = ", ".join(f"{s} {timings.get(s, 0.0):.2f}" for s in CHUNK_STAGES)
    clock = ", ".join(f"{s} {timings.get(f'{s}_wall', 0.0):.2f}" for s in CHUNK_STAGES)
    parts = [_stage_text(timings, "plan", TIMING_STAGES[0][1])] if "plan" in timings else []
    parts.append(
        f"chunks {timings['chunks']:.2f} on the clock ({work} of work in all chunks; "
        f"on the clock {clock})"
    )
    if "finish" in timings:
        parts.append(_stage_text(timings, "finish", TIMING_STAGES[-1][1]))
    summed = timings.get("plan", 0.0) + timings["chunks"] + timings.get("finish", 0.0)
    return _with_total(", ".join(parts), timings.get("total"), summed)


def _with_total(line: str, total: float | None, summed: float) -> str:
    if total is None:
        return line
    rest = total - summed
    if rest >= 0:
        return f"{line}; waiting {rest:.2f}; total {total:.2f}"
    return f"{line}; chunks side by side saved {-rest:.2f}; total {total:.2f}"


def params_from_dict(values: dict) -> Params:
    """Params back from a run's JSON (lists become the tuples they were)."""
    known = {f.name: f for f in dataclasses.fields(Params)}
    kwargs: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in values.items()
        if name in known
    }
    return Params(**kwargs)


def run_params(run: AnalysisRun) -> Params:
    return params_from_dict(run.params)


def analysis_run_start(
    *,
    team: Team,
    params: Params,
    user: User | AnonymousUser | None = None,
    window_end: date | None = None,
    purpose: str = RunPurpose.ANALYSIS,
) -> AnalysisRun:
    """Create a PENDING run for the team's data and queue it once the transaction commits.

    Raises AnalysisError when there is nothing to analyse or the window is impossible, and
    RunInProgress when the team already has a live analysis (a backtest's runs neither wait
    for nor block the team's analyses, nor each other: the backtest is the one at a time).
    A broker that cannot take the run is an AnalysisError too; the run is then FAILED with
    that reason, so nothing waits for it."""
    window = analysis_window(team=team, window_end=window_end)
    try:
        run = _create_and_queue(team, params, user, window, purpose)
    except QueueUnavailable as exc:
        raise AnalysisError(exc.message) from exc
    if purpose == RunPurpose.ANALYSIS:
        audit_record(
            action="analysis started",
            team=team,
            target=run,
            user=user,
            detail=f"window {window.start:%Y-%m} to {window.end:%Y-%m}",
        )
    run.refresh_from_db()  # tasks ran already if they are eager
    return run


def _create_and_queue(
    team: Team,
    params: Params,
    user: User | AnonymousUser | None,
    window: Window,
    purpose: str,
) -> AnalysisRun:
    with transaction.atomic():
        # One start at a time per team (the same lock an import's write takes).
        Team.objects.select_for_update().filter(pk=team.pk).first()
        if purpose == RunPurpose.ANALYSIS:  # a backtest's runs are its own to schedule
            _retire_or_refuse_active(team)
        run = AnalysisRun.objects.create(
            team=team,
            purpose=purpose,
            created_by=user if user is not None and user.is_authenticated else None,
            params=params.as_dict(),
            window_start=window.start,
            window_end=window.end,
            notes=window.notes,
            status=RunStatus.PENDING,
            stage="queued",
        )
        enqueue_on_commit(
            RUN_TASK,
            run.pk,
            on_failure=lambda reason: analysis_run_fail(run_id=run.pk, error=reason),
        )
    return run


def _retire_or_refuse_active(team: Team) -> None:
    active = (
        AnalysisRun.objects.filter(team=team, status__in=ACTIVE).analyses().latest_first().first()
    )
    if active is None:
        return
    stale_after = timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    last_sign = active.heartbeat_at or active.created_at
    if timezone.now() - last_sign < stale_after:
        raise RunInProgress(active)
    analysis_run_fail(
        run_id=active.pk,
        error=f"Abandoned: no progress since {last_sign:%Y-%m-%d %H:%M} (the worker stopped?).",
    )


def analysis_run_claim(*, run_id: int) -> AnalysisRun | None:
    """PENDING → RUNNING, once: a task delivered twice finds nothing to claim."""
    now = timezone.now()
    claimed = AnalysisRun.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING,
        stage="planning",
        progress=1,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    return AnalysisRun.objects.get(pk=run_id) if claimed else None


def analysis_run_plan(*, run: AnalysisRun) -> list[int] | None:
    """Split the run's customers into chunks of contiguous ids; their numbers, or None if
    the run failed here."""
    started = time.perf_counter()
    try:
        ids = list(
            window_customers(
                team_id=run.team_id, window_start=run.window_start, window_end=run.window_end
            ).values_list("id", flat=True)
        )
        if not ids:
            raise AnalysisError(
                f"No customer has revenue between {run.window_start:%Y-%m} and "
                f"{run.window_end:%Y-%m}: there is nothing to analyse."
            )
        fit_started = time.perf_counter()
        params = dataclasses.replace(
            run_params(run),
            purchase_model=purchase_model_fit(
                team_id=run.team_id,
                window_start=run.window_start,
                window_end=run.window_end,
                customer_ids=ids,
            ),
        )
        fit_seconds = time.perf_counter() - fit_started
        size = settings.ANALYSIS_CHUNK_SIZE
        chunks = [
            AnalysisChunk(
                run=run,
                number=number,
                first_customer_id=ids[offset],
                last_customer_id=ids[min(offset + size, len(ids)) - 1],
                customers_count=min(size, len(ids) - offset),
            )
            for number, offset in enumerate(range(0, len(ids), size))
        ]
        with transaction.atomic():
            AnalysisChunk.objects.filter(run=run).delete()
            AnalysisChunk.objects.bulk_create(chunks)
            AnalysisRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                params=params.as_dict(),
                chunks_total=len(chunks),
                chunks_done=0,
                customers_count=len(ids),
                stage="analysing",
                progress=PLANNED_PROGRESS,
                timings={
                    "plan": round(time.perf_counter() - started, 3),
                    "purchase_fit": round(fit_seconds, 3),
                },
                heartbeat_at=timezone.now(),
            )
    except AnalysisError as exc:
        analysis_run_fail(run_id=run.pk, error=exc.message)
        return None
    except Exception as exc:
        logger.exception("Planning analysis run %s failed", run.pk)
        analysis_run_fail(run_id=run.pk, error=f"Planning failed ({type(exc).__name__}): {exc}")
        return None
    return [chunk.number for chunk in chunks]


def analysis_chunks_queue(run_id: int, numbers: list[int]) -> None:
    """Queue these chunks of the run, then its finishing step once they are all done."""
    header = [task_named(CHUNK_TASK).si(run_id, number) for number in numbers]
    body = task_named(FINISH_TASK).si(run_id)
    if not isinstance(celery_app.backend, DisabledBackend):
        chord(header)(body)
    else:  # a chord needs a result backend; without one the chunks run one after another
        chain(*header, body).delay()


def analysis_run_fail(*, run_id: int, error: str) -> bool:
    """Mark a live run FAILED with its reason; the team's previous results stay current."""
    failed = AnalysisRun.objects.filter(pk=run_id, status__in=ACTIVE).update(
        status=RunStatus.FAILED, stage="failed", error=error[:4000], finished_at=timezone.now()
    )
    AnalysisChunk.objects.filter(run_id=run_id, status=ChunkStatus.PENDING).update(
        status=ChunkStatus.FAILED
    )
    return bool(failed)


def analysis_run_wait(
    *, run: AnalysisRun, timeout: float = 3600.0, poll: float = 0.5
) -> AnalysisRun:
    """Block until the run finishes (for the command line); returns it refreshed."""
    if not wait_finished(run, timeout=timeout, poll=poll):
        raise AnalysisError(
            f"Run #{run.pk} is still {run.get_status_display().lower()} after {timeout:.0f} s "
            "(is a worker running? `make worker`)."
        )
    return run


def runs_for_team(*, team: Team):
    runs = AnalysisRun.objects.filter(team=team).analyses().select_related("created_by")
    return runs.latest_first()


def run_for_team(*, team: Team, run_id: int) -> AnalysisRun | None:
    return AnalysisRun.objects.filter(team=team, pk=run_id).first()


def results_are_current(*, team: Team) -> bool:
    """Has the team a succeeded run started after its latest import finished?"""
    run = current_run(team)
    if run is None:
        return False
    imports = Upload.objects.filter(team=team, status=UploadStatus.SUCCEEDED)
    return not imports.filter(finished_at__gte=run.created_at).exists()


def run_summary(run: AnalysisRun) -> str:
    """A run in a few lines of text: what the analyze and seed_demo commands print."""
    lines = [
        f"Run #{run.pk}: {run.status}",
        f"Window: {run.window_start:%Y-%m} to {run.window_end:%Y-%m} ({len(run.months)} months)",
        f"Customers: {run.customers_count}",
    ]
    lines += [f"  {label}: {count}" for label, count in run.level_counts]
    if run.status == RunStatus.SUCCEEDED:
        silhouette = f" (silhouette {run.silhouette:.3f})" if run.silhouette is not None else ""
        lines.append(f"Segments: {run.segments_count}{silhouette}")
        lines.append(f"Anomalies: {run.anomalies_count}")
    if run.timings:
        lines.append(f"Timings (s): {timing_summary(run.timings)}")
    lines += [f"Note: {note}" for note in run.notes]
    return "\n".join(lines)


STALE_MONTHS = 3  # a customer whose data ends this many months before the window end


@dataclass(frozen=True)
class RunStaleness:
    """Customers whose revenue data ends well before the run's window end: the run read the
    missing months as months without revenue."""

    before: date  # their last month is this month or earlier
    customers: int
    churned: int  # of them, judged churned


def run_staleness(*, run: AnalysisRun) -> RunStaleness | None:
    """One aggregate query; None when no customer's data ends that early."""
    before = add_months(run.window_end, -STALE_MONTHS)
    stale = CustomerResult.objects.filter(run=run, customer__last_month__lte=before)
    counts = stale.aggregate(customers=Count("pk"), churned=Count("pk", filter=Q(churned=True)))
    if not counts["customers"]:
        return None
    return RunStaleness(before, counts["customers"], counts["churned"])

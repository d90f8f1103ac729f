"""The watchdog's part for runs: a run whose worker vanished is sent again, finished, or
failed with the reason — within minutes, not when the broker's visibility timeout (an hour
on Redis) redelivers its messages.

Every step is safe beside a worker that was only slow: claims are conditional, a chunk is
written once (its row is the guard), finishing locks the run. A task that keeps killing its
worker fails the run after ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from analytics.models import ACTIVE, AnalysisChunk, AnalysisRun, ChunkStatus, RunStatus
from revtrend_site.queueing import enqueue, recover_each, stalled, touch

from .runs import FINISH_TASK, RUN_TASK, analysis_chunks_queue, analysis_run_fail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def analysis_runs_recover(*, stalled_after: timedelta, give_up_after: timedelta) -> list[str]:
    """Look at every live run (analyses and backtests' runs) with no sign of life for
    ``stalled_after``; returns what was done, one line per run."""
    now = timezone.now()
    runs = stalled(AnalysisRun.objects.filter(status__in=ACTIVE), since=now - stalled_after)
    return recover_each(runs, "run", lambda run: _recover(run, now - give_up_after))


def _recover(run: AnalysisRun, give_up_before: datetime) -> str:
    if run.status == RunStatus.PENDING:
        return _pending(run, give_up_before)
    if run.chunks_total == 0:
        return _planning(run)
    return _chunks(run)


def _pending(run: AnalysisRun, give_up_before: datetime) -> str:
    if run.created_at < give_up_before:
        analysis_run_fail(
            run_id=run.pk,
            error="No worker took this run: is a worker running (`make worker`)? "
            "Start the analysis again once one is.",
        )
        return "failed: never taken by a worker"
    if not touch(AnalysisRun, run):
        return ""
    enqueue(RUN_TASK, run.pk)  # lost with a broker restart? a second copy is harmless
    return "queued again"


def _planning(run: AnalysisRun) -> str:
    if run.attempts >= MAX_ATTEMPTS:
        analysis_run_fail(
            run_id=run.pk,
            error=f"The worker stopped {run.attempts} times while planning this run; "
            "nothing was written.",
        )
        return "failed: planning stopped its worker"
    if not touch(AnalysisRun, run, status=RunStatus.PENDING, stage="queued", progress=0):
        return ""
    enqueue(RUN_TASK, run.pk)
    return "planning again"


def _chunks(run: AnalysisRun) -> str:
    waiting = list(
        AnalysisChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).order_by("number")
    )
    broken = [chunk for chunk in waiting if chunk.attempts >= MAX_ATTEMPTS]
    if broken:
        chunk = broken[0]
        analysis_run_fail(
            run_id=run.pk,
            error=f"Chunk {chunk.number + 1} of {run.chunks_total} stopped its worker "
            f"{chunk.attempts} times; the previous results stay current.",
        )
        return f"failed: chunk {chunk.number} stopped its worker"
    if not touch(AnalysisRun, run):
        return ""
    if not waiting:  # every chunk written, the finishing step died or was never sent
        enqueue(FINISH_TASK, run.pk)
        return "finishing"
    analysis_chunks_queue(run.pk, [chunk.number for chunk in waiting])
    return f"{len(waiting)} chunk(s) queued again"

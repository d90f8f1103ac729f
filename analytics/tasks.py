"""Celery tasks of an analysis run: thin — load ids, call one service.

analysis_run_task claims the run and fans it out as a chord: one analysis_chunk_task per
chunk (spread over the workers), then analysis_finish_task. With eager tasks (no broker)
the chord runs in-process, chunk after chunk.
"""

from __future__ import annotations

from celery import shared_task

from .services import (
    WAITING,
    analysis_chunk_run,
    analysis_chunks_queue,
    analysis_chunks_run_here,
    analysis_run_claim,
    analysis_run_fail,
    analysis_run_finish,
    analysis_run_plan,
)

# The chord's body may be triggered before the last chunk is written (a chunk delivered
# twice counts twice): it then waits for the chunks, up to this many times 2 s.
FINISH_RETRIES = 300
FINISH_RETRY_SECONDS = 2


@shared_task(bind=True, acks_late=True)
def analysis_run_task(self, run_id: int) -> str:
    run = analysis_run_claim(run_id=run_id)
    if run is None:
        return "skipped: not pending (already claimed or done)"
    numbers = analysis_run_plan(run=run)
    if numbers is None:
        return "FAILED"
    if self.app.conf.task_always_eager:  # no broker: this process does all the work
        analysis_chunks_run_here(run_id=run_id, numbers=numbers)
        return analysis_run_finish(run_id=run_id)
    analysis_chunks_queue(run_id, numbers)
    return f"queued {len(numbers)} chunks"


@shared_task(acks_late=True)
def analysis_chunk_task(run_id: int, number: int) -> str:
    return analysis_chunk_run(run_id=run_id, number=number)


@shared_task(bind=True, acks_late=True, max_retries=FINISH_RETRIES)
def analysis_finish_task(self, run_id: int) -> str:
    outcome = analysis_run_finish(run_id=run_id)
    if outcome != WAITING:
        return outcome
    if self.request.retries >= FINISH_RETRIES:
        analysis_run_fail(run_id=run_id, error="Gave up waiting for the chunks to be written.")
        return "FAILED"
    raise self.retry(countdown=FINISH_RETRY_SECONDS)

"""Analysis runs through a real Celery worker consuming from Redis, on PostgreSQL."""

from __future__ import annotations

import pytest
from celery import chord

from analytics.core import Params
from analytics.models import AnalysisChunk, AnalysisRun, Anomaly, CustomerResult, RunStatus
from analytics.services import (
    analysis_run_claim,
    analysis_run_plan,
    analysis_run_start,
    chunks,
    current_run,
)
from analytics.tasks import analysis_chunk_task, analysis_finish_task
from customers.models import Customer
from tests.conftest import wait_until_finished as wait_for_worker

from .helpers import import_portfolio

# The worker thread shares the database with the test: SQLite's in-memory one cannot.
pytestmark = [pytest.mark.redis, pytest.mark.postgres]

CUSTOMERS = 45


@pytest.fixture
def portfolio(team_a, settings):
    settings.ANALYSIS_CHUNK_SIZE = 20  # 45 customers → 3 chunks
    return import_portfolio(team_a, customers=CUSTOMERS, seed=11)


def wait_until_finished(pk: int):
    return wait_for_worker(AnalysisRun, pk)


def no_duplicates(run: AnalysisRun) -> None:
    results = CustomerResult.objects.filter(run=run)
    assert results.count() == results.values("customer").distinct().count()
    assert results.count() == run.customers_count
    anomalies = Anomaly.objects.filter(run=run)
    assert anomalies.count() == run.anomalies_count


def test_the_worker_runs_the_chord_and_the_run_succeeds(celery_worker, team_a, portfolio):
    run = analysis_run_start(team=team_a, params=Params())  # queued on commit (autocommit)
    run = wait_until_finished(run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.chunks_total, run.chunks_done, run.progress) == (3, 3, 100)
    in_window = Customer.objects.filter(team=team_a, first_month__lte=run.window_end)
    assert run.customers_count == in_window.count() > 0
    no_duplicates(run)
    assert current_run(team_a) == run
    # A chunk task delivered again after the run finished writes nothing.
    assert analysis_chunk_task.delay(run.pk, 1).get(timeout=30).startswith("skipped")
    no_duplicates(run)


def test_a_failing_chunk_fails_the_run_and_keeps_the_previous_results(
    celery_worker, team_a, portfolio, monkeypatch
):
    previous = wait_until_finished(analysis_run_start(team=team_a, params=Params()).pk)
    assert previous.status == RunStatus.SUCCEEDED, previous.error
    real = chunks.analyze_portfolio
    calls = []

    def second_chunk_breaks(matrix, months, params):
        calls.append(len(matrix))
        if len(calls) == 2:
            raise ValueError("no convergence")
        return real(matrix, months, params)

    monkeypatch.setattr(chunks, "analyze_portfolio", second_chunk_breaks)
    failed = wait_until_finished(analysis_run_start(team=team_a, params=Params()).pk)
    assert failed.status == RunStatus.FAILED
    assert failed.error == "Chunk 2 of 3 failed (ValueError): no convergence"
    assert current_run(team_a) == previous
    assert CustomerResult.objects.filter(run=previous).count() == previous.customers_count


def test_chunk_tasks_delivered_twice_write_no_duplicate_rows(celery_worker, team_a, portfolio):
    upload = portfolio
    run = AnalysisRun.objects.create(
        team=team_a,
        window_start=upload.first_month,
        window_end=upload.last_month,
        params=Params().as_dict(),
    )
    run = analysis_run_claim(run_id=run.pk)
    numbers = analysis_run_plan(run=run)
    # Every chunk twice: the chord's body may even fire before the last chunk is written.
    header = [analysis_chunk_task.si(run.pk, n) for n in numbers for _ in range(2)]
    chord(header)(analysis_finish_task.si(run.pk))
    run = wait_until_finished(run.pk)
    assert run.status == RunStatus.SUCCEEDED, run.error
    no_duplicates(run)
    assert run.chunks_done == len(numbers) == AnalysisChunk.objects.filter(run=run).count()

"""The watchdog on rows a vanished worker left behind (tasks eager here: what it queues runs
in this process). The real-worker version kills a worker by PID: test_killed_worker.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.core import Params
from analytics.models import AnalysisChunk, AnalysisRun, CustomerResult, RunStatus
from analytics.services import analysis_run_claim, analysis_run_plan, analysis_run_start
from analytics.services.chunks import analysis_chunk_run
from customers.models import RevenueRecord, Upload, UploadStatus
from customers.services import upload_claim, upload_create
from operations.services import watchdog_sweep
from reports.models import Report, ReportStatus
from reports.services import report_create
from tests.analytics.helpers import import_portfolio

pytestmark = pytest.mark.django_db(transaction=True)  # work is queued on commit

LONG_AGO = timedelta(minutes=30)


def age(model, pk: int, by: timedelta = LONG_AGO) -> None:
    """As if the row's worker had last shown a sign of life ``by`` ago."""
    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - by)


@pytest.fixture
def portfolio(team_a, settings):
    settings.ANALYSIS_CHUNK_SIZE = 10  # 30 customers → 3 chunks
    return import_portfolio(team_a, customers=30, seed=9)


def half_done_run(team) -> AnalysisRun:
    """A run whose worker died after writing its first chunk."""
    run = AnalysisRun.objects.create(
        team=team, params=Params().as_dict(), window_start="2023-01-01", window_end="2025-06-01"
    )
    run = analysis_run_claim(run_id=run.pk)
    assert analysis_run_plan(run=run) == [0, 1, 2]
    assert analysis_chunk_run(run_id=run.pk, number=0) == "done"
    AnalysisChunk.objects.filter(run=run, number=1).update(attempts=1)  # killed mid-chunk
    age(AnalysisRun, run.pk)
    return run


def test_a_run_left_half_done_is_finished_without_duplicates(team_a, portfolio):
    run = half_done_run(team_a)
    actions = watchdog_sweep()
    assert actions == [f"run {run.pk}: 2 chunk(s) queued again"]
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    results = CustomerResult.objects.filter(run=run)
    assert results.count() == results.values("customer").distinct().count() == 30
    assert watchdog_sweep() == []  # nothing left to put right


def test_a_live_run_is_left_alone(team_a, portfolio):
    run = half_done_run(team_a)
    age(AnalysisRun, run.pk, by=timedelta(seconds=30))  # a slow chunk, not a dead worker
    assert watchdog_sweep() == []
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_a_chunk_that_keeps_killing_its_worker_fails_the_run_with_the_reason(team_a, portfolio):
    previous = analysis_run_start(team=team_a, params=Params())
    run = half_done_run(team_a)
    AnalysisChunk.objects.filter(run=run, number=1).update(attempts=3)
    watchdog_sweep()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Chunk 2 of 3 stopped its worker 3 times")
    assert AnalysisRun.objects.filter(status=RunStatus.SUCCEEDED).get() == previous


def test_a_run_whose_chunks_are_written_but_never_finished_is_finished(team_a, portfolio):
    run = half_done_run(team_a)
    for number in (1, 2):
        analysis_chunk_run(run_id=run.pk, number=number)
    age(AnalysisRun, run.pk)
    assert watchdog_sweep() == [f"run {run.pk}: finishing"]
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


def test_a_run_that_died_while_planning_is_planned_again_then_given_up(team_a, portfolio):
    run = AnalysisRun.objects.create(
        team=team_a, params=Params().as_dict(), window_start="2023-01-01", window_end="2025-06-01"
    )
    analysis_run_claim(run_id=run.pk)  # claimed, then the worker died
    age(AnalysisRun, run.pk)
    assert watchdog_sweep() == [f"run {run.pk}: planning again"]
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 2

    stuck = AnalysisRun.objects.create(
        team=team_a, params=Params().as_dict(), window_start="2023-01-01", window_end="2025-06-01",
        status=RunStatus.RUNNING, attempts=3,
    )  # fmt: skip
    age(AnalysisRun, stuck.pk)
    watchdog_sweep()
    stuck.refresh_from_db()
    assert stuck.status == RunStatus.FAILED
    assert "stopped 3 times while planning" in stuck.error


def test_a_queued_run_no_worker_took_is_failed_after_the_time_limit(team_a, portfolio, settings):
    run = AnalysisRun.objects.create(
        team=team_a, params=Params().as_dict(), window_start="2023-01-01", window_end="2025-06-01"
    )
    AnalysisRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    )
    age(AnalysisRun, run.pk)
    watchdog_sweep()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "No worker took this run" in run.error


CSV = b"customer_id,date,amount\n" + b"".join(
    f"c{i % 20},2024-{1 + i % 12:02d}-10,{i}.50\n".encode() for i in range(400)
)


def test_an_import_whose_worker_died_is_imported_once(team_a):
    upload = upload_create(team=team_a, data=CSV, filename="k.csv")
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.PENDING)
    upload_claim(upload_id=upload.pk)  # the worker claimed it, then died mid-import
    age(Upload, upload.pk)
    assert watchdog_sweep() == [f"upload {upload.pk}: queued again"]
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert upload.attempts == 2
    assert str(upload.total_amount) == f"{sum(range(400)) + 400 * 0.5:.2f}"
    # customer i % 20 and month i % 12 meet only when they agree mod 4: 20 × 12 / 4 pairs
    assert RevenueRecord.objects.filter(team=team_a).count() == 60


def test_an_import_that_keeps_killing_its_worker_is_failed_and_writes_nothing(team_a):
    upload = upload_create(team=team_a, data=CSV, filename="k.csv")
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING, attempts=3)
    age(Upload, upload.pk)
    watchdog_sweep()
    upload.refresh_from_db()
    assert upload.status == UploadStatus.FAILED
    assert upload.error_message.startswith("The worker stopped 3 times while importing")
    assert not RevenueRecord.objects.filter(team=team_a).exists()


def test_a_report_whose_worker_died_is_written_again(team_a, portfolio):
    analysis_run_start(team=team_a, params=Params())
    report = report_create(team=team_a, kind="portfolio", scope={})
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, attempts=1)
    age(Report, report.pk, by=timedelta(hours=2))  # past the model's whole time budget
    assert watchdog_sweep() == [f"report {report.pk}: queued again"]
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE, report.error
    assert report.content


def test_a_report_waiting_on_the_model_is_not_taken_for_stalled(team_a, portfolio, settings):
    settings.OPENAI_TIMEOUT = 120  # three attempts may take six minutes and more
    analysis_run_start(team=team_a, params=Params())
    report = report_create(team=team_a, kind="portfolio", scope={})
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.RUNNING, attempts=1)
    age(Report, report.pk, by=timedelta(seconds=400))  # stalled for a run, not for this model
    assert watchdog_sweep() == []


def test_the_command_prints_what_it_put_right(team_a, portfolio, capsys):
    run = half_done_run(team_a)
    call_command("watchdog", "--stalled-after", "60")
    out = capsys.readouterr().out
    assert f"run {run.pk}: 2 chunk(s) queued again" in out
    assert "1 row(s) put right." in out

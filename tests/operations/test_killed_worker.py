"""A real Celery worker process killed by PID (SIGKILL) mid-run and mid-import: the watchdog
has the work finished by another worker within its period — no duplicates, the import all or
nothing and never shown as running for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from analytics.core import Params
from analytics.models import AnalysisChunk, AnalysisRun, ChunkStatus, CustomerResult, RunStatus
from analytics.services import analysis_run_start
from customers.demo import generate_portfolio
from customers.models import RevenueRecord, Upload, UploadStatus
from customers.services import upload_confirm, upload_create
from operations.services import watchdog_sweep
from tests.analytics.helpers import import_portfolio
from tests.conftest import REDIS_URL, celery_pointed_at, reachable, require

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
STALLED_AFTER = timedelta(seconds=2)  # the test's watchdog period (production: minutes)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def workers(settings):
    """Start real worker processes on the test database; every one is killed at the end."""
    require(reachable(REDIS_URL), f"needs Redis at {REDIS_URL} (set REVTREND_TEST_REDIS_URL)")
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_RESULT_BACKEND": REDIS_URL,
            "ANALYSIS_CHUNK_SIZE": str(settings.ANALYSIS_CHUNK_SIZE),  # as the test set it
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        command = [
            sys.executable, "-m", "celery", "-A", "revtrend_site", "worker", "--pool", "solo",
            "--without-mingle", "--without-gossip", "--loglevel", "WARNING",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env=env)
        started.append(process)
        return process

    with celery_pointed_at(REDIS_URL) as app:
        app.control.purge()  # messages other tests left unconsumed
        try:
            yield start
        finally:
            for process in started:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
            app.control.purge()


def wait_for(condition, timeout: float = 90.0, poll: float = 0.02, about=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    if about is not None:
        about.refresh_from_db()
        about = {k: getattr(about, k) for k in ("status", "stage", "error") if hasattr(about, k)}
    raise AssertionError(f"not reached within {timeout} s: {about}")


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def sweep_until(finished, timeout: float = 120.0):
    """The watchdog's beat, sped up: a sweep every second until the row is finished."""

    def tick():
        watchdog_sweep(stalled_after=STALLED_AFTER)
        return finished()

    return wait_for(tick, timeout=timeout, poll=1.0)


def test_a_run_whose_worker_is_killed_mid_run_is_finished_by_another(team_a, settings, workers):
    settings.ANALYSIS_CHUNK_SIZE = 40
    import_portfolio(team_a, customers=1200, months=36, seed=21)  # 30 chunks
    first = workers()
    run = analysis_run_start(team=team_a, params=Params())
    wait_for(lambda: AnalysisRun.objects.get(pk=run.pk).chunks_done >= 2, about=run)
    kill(first)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.chunks_done < run.chunks_total

    workers()
    run = sweep_until(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status__in=("SUCCEEDED", "FAILED")).first()
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert AnalysisChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).count() == 0
    results = CustomerResult.objects.filter(run=run)
    assert results.count() == results.values("customer").distinct().count()
    assert results.count() == run.customers_count > 1000


def big_csv(rows: int) -> tuple[bytes, str]:
    """A file whose import takes the worker seconds; and its total to the cent."""
    portfolio = generate_portfolio(customers=rows // 36, months=36, seed=4, end_month="2025-06")
    frame = portfolio.transactions
    frame = frame.loc[frame.index.repeat(max(1, rows // len(frame)))]
    text = frame.to_csv(index=False, float_format="%.2f", lineterminator="\n")
    amounts = frame["amount"].map(lambda value: round(value * 100)).sum()
    return text.encode(), f"{amounts / 100:.2f}"


def test_an_import_whose_worker_is_killed_is_imported_once_by_another(team_a, workers):
    data, total = big_csv(400_000)
    upload = upload_create(team=team_a, data=data, filename="big.csv")
    first = workers()
    upload_confirm(upload=upload, column_mapping={})
    wait_for(lambda: Upload.objects.filter(pk=upload.pk, status=UploadStatus.RUNNING).exists())
    time.sleep(0.5)  # well inside reading or parsing
    kill(first)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.RUNNING
    assert not RevenueRecord.objects.filter(team=team_a).exists()  # all or nothing

    workers()
    upload = sweep_until(
        lambda: Upload.objects.filter(pk=upload.pk, status__in=("SUCCEEDED", "FAILED")).first()
    )
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message
    assert upload.attempts == 2
    assert str(upload.total_amount) == total
    assert upload.rows_imported == len(data.splitlines()) - 1

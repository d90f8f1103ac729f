"""Without a broker (tasks eager), work queued by a web request runs in a thread of its own:
the request answers at once and the page polls the row, as with a worker."""

from __future__ import annotations

import threading
import time

import pytest

from analytics.models import AnalysisRun, RunStatus
from analytics.services import chunks
from reports.models import Report, ReportStatus
from reports.services import report_generate as real_report_generate
from tests.analytics.helpers import import_portfolio

pytestmark = pytest.mark.django_db(transaction=True)  # the thread reads committed rows


@pytest.fixture
def background(settings):
    settings.EAGER_TASKS_IN_BACKGROUND = True


def wait_for(condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout} s")


def test_a_run_started_from_the_page_answers_before_the_work_is_done(
    client_for, analyst_a, team_a, background, monkeypatch
):
    import_portfolio(team_a, customers=20, seed=4)
    release = threading.Event()
    real = chunks.analyze_portfolio

    def held(*args, **kwargs):
        assert release.wait(30), "never released"
        return real(*args, **kwargs)

    monkeypatch.setattr(chunks, "analyze_portfolio", held)
    response = client_for(analyst_a).post(f"/t/{team_a.slug}/runs/start/")
    assert response.status_code == 302  # answered while the analysis waits
    run = AnalysisRun.objects.get()
    assert run.status in (RunStatus.PENDING, RunStatus.RUNNING)
    release.set()
    run = wait_for(lambda: AnalysisRun.objects.filter(status=RunStatus.SUCCEEDED).first())
    assert run.customers_count == 20


def test_a_report_waits_for_a_slow_model_outside_the_request(
    client_for, analyst_a, team_a, background, monkeypatch
):
    from analytics.core import Params
    from analytics.services import analysis_run_start

    import_portfolio(team_a, customers=20, seed=4)
    analysis_run_start(team=team_a, params=Params())  # no request: runs here, now
    release = threading.Event()

    def slow_model(*, report):
        assert release.wait(30), "never released"
        return real_report_generate(report=report)

    monkeypatch.setattr("reports.tasks.report_generate", slow_model)
    started = time.monotonic()
    client_for(analyst_a).post(f"/t/{team_a.slug}/reports/generate/", {"kind": "portfolio"})
    assert time.monotonic() - started < 10
    assert Report.objects.get().status in (ReportStatus.PENDING, ReportStatus.RUNNING)
    release.set()
    report = wait_for(lambda: Report.objects.filter(status=ReportStatus.DONE).first())
    assert report.content

"""A broker that is down: every request that queues work answers at once with a clear
message, leaves no row waiting for a task that was never sent, and the next start works."""

from __future__ import annotations

import contextlib
import time

import pytest
from django.contrib.messages import get_messages

from analytics.core import Params
from analytics.models import AnalysisRun, RunStatus, current_run
from analytics.services import analysis_run_start
from backtests.models import Backtest, BacktestStatus
from customers.models import UploadStatus
from customers.services import upload_create
from reports.models import Report, ReportStatus
from tests.analytics.helpers import import_portfolio
from tests.conftest import celery_pointed_at

# Real commits: the queueing happens in on_commit callbacks.
pytestmark = pytest.mark.django_db(transaction=True)

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
AT_ONCE = 10.0  # seconds; Celery's own retries took about 19 s


@pytest.fixture
def broker_down():
    """The app's broker is unreachable until the test calls the returned ``restore()``."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(celery_pointed_at(DEAD_BROKER))
        yield stack.close


@pytest.fixture
def analysed(team_a):
    import_portfolio(team_a, customers=30, seed=5)
    run = analysis_run_start(team=team_a, params=Params())  # eager: finished on return
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def timed_post(client, url, data):
    started = time.monotonic()
    response = client.post(url, data)
    return response, time.monotonic() - started


def test_starting_a_run_with_the_broker_down_says_so_and_the_next_start_works(
    client_for, analyst_a, team_a, analysed, broker_down
):
    client = client_for(analyst_a)
    response, seconds = timed_post(client, f"/t/{team_a.slug}/runs/start/", {})
    assert seconds < AT_ONCE
    assert response.status_code == 400
    assert b"task queue is not reachable" in response.content
    unsent = AnalysisRun.objects.exclude(pk=analysed.pk).get()
    assert unsent.status == RunStatus.FAILED  # not PENDING: nothing waits for it
    assert "task queue is not reachable" in unsent.error
    assert current_run(team_a) == analysed  # the last good results stay current

    broker_down()  # the broker is back (eager here): the team is not blocked
    response = client.post(f"/t/{team_a.slug}/runs/start/", {})
    assert response.status_code == 302
    assert current_run(team_a).pk not in (analysed.pk, unsent.pk)


def test_confirming_an_upload_with_the_broker_down_keeps_it_a_draft(
    client_for, admin_a, team_a, broker_down
):
    upload = upload_create(
        team=team_a, data=b"customer_id,date,amount\nc1,2024-01-05,10\n", filename="a.csv"
    )
    client = client_for(admin_a)
    url = f"/t/{team_a.slug}/uploads/{upload.pk}/confirm/"
    form = {"customer": "customer_id", "date": "date", "amount": "amount", "mode": "append"}
    response, seconds = timed_post(client, url, form)
    assert seconds < AT_ONCE
    assert response.status_code == 400
    assert b"task queue is not reachable" in response.content
    upload.refresh_from_db()
    assert upload.status == UploadStatus.DRAFT  # to be confirmed again, nothing lost

    broker_down()
    response = client.post(url, form)
    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED, upload.error_message


def test_a_report_requested_with_the_broker_down_is_failed_with_the_reason(
    client_for, analyst_a, team_a, analysed, broker_down
):
    client = client_for(analyst_a)
    response, seconds = timed_post(
        client, f"/t/{team_a.slug}/reports/generate/", {"kind": "portfolio"}
    )
    assert seconds < AT_ONCE
    report = Report.objects.get()
    assert report.status == ReportStatus.FAILED
    assert "task queue is not reachable" in report.error
    assert response.status_code == 302  # back to where it came from, with the message
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("task queue is not reachable" in message for message in shown)


def test_a_backtest_started_with_the_broker_down_is_failed_with_the_reason(
    client_for, analyst_a, team_a, analysed, broker_down
):
    client = client_for(analyst_a)
    response, seconds = timed_post(client, f"/t/{team_a.slug}/backtests/start/", {})
    assert seconds < AT_ONCE
    assert response.status_code == 400
    assert b"task queue is not reachable" in response.content
    assert Backtest.objects.get().status == BacktestStatus.FAILED
    broker_down()
    assert client.post(f"/t/{team_a.slug}/backtests/start/", {}).status_code == 302

"""Every list page reads a fixed number of queries, whatever how many rows it lists.

Each page is read with a few rows of its kind and then with many more (owned by several
users, on several runs): the number of queries must not grow, and stays under a bound.
Pages of one customer or one run have theirs in their own tests (dashboard, risk table,
customer, segments, reports).
"""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import AnalysisRun, RunStatus
from backtests.models import Backtest
from customers.models import Customer, Upload, UploadStatus
from reports.models import Report, ReportKind, ReportStatus
from workflow.models import Alert, AlertRule, RuleKind

pytestmark = pytest.mark.django_db

BOUND = 20


def add_runs(team, users, count: int) -> list[AnalysisRun]:
    runs = []
    for i in range(count):
        run = AnalysisRun.objects.create(
            team=team,
            created_by=users[i % len(users)],
            window_start=date(2023, 1, 1),
            window_end=date(2025, 6, 1),
            status=RunStatus.SUCCEEDED,
            customers_count=10,
            finished_at=timezone.now(),
            timings={"plan": 0.1, "total": 1.0},
        )
        runs.append(run)
    return runs


def add_rows(team, users, count: int) -> None:
    runs = add_runs(team, users, count)
    for i, run in enumerate(runs):
        user = users[i % len(users)]
        Upload.objects.create(
            team=team,
            uploaded_by=user,
            original_name=f"file-{i}.csv",
            content_hash=uuid4().hex * 2,
            status=UploadStatus.SUCCEEDED,
            rows_read=10,
            total_amount=100,
            first_month=date(2023, 1, 1),
            last_month=date(2025, 6, 1),
        )
        Report.objects.create(
            team=team,
            run=run,
            kind=ReportKind.PORTFOLIO,
            title=f"Portfolio brief {i}",
            status=ReportStatus.DONE,
            content="## Profile\n\nFine.",
            provider="offline",
            created_by=user,
        )
        Backtest.objects.create(
            team=team,
            created_by=user,
            cutoffs=["2024-06"],
            horizon=6,
            status="SUCCEEDED",
            finished_at=timezone.now(),
        )
        customer = Customer.objects.create(team=team, external_id=uuid4().hex, owner=user)
        rule, _ = AlertRule.objects.get_or_create(
            team=team, kind=RuleKind.REVENUE_AT_RISK, threshold=1000
        )
        Alert.objects.create(
            team=team,
            rule=rule,
            customer=customer,
            run=run,
            message=f"revenue at risk {i}",
            owner=user,
        )


PAGES = {
    "runs": ("run_list", True),
    "uploads": ("upload_list", True),
    "reports": ("report_list", True),
    "backtests": ("backtest_list", True),
    "alerts": ("alerts_page", True),
}


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_list_page_reads_the_same_queries_for_few_rows_and_many(
    client_for, admin_a, analyst_a, viewer_a, team_a, page
):
    name, _ = PAGES[page]
    url = reverse(name, args=[team_a.slug])
    client = client_for(admin_a)
    users = [admin_a, analyst_a, viewer_a]
    add_rows(team_a, users, 2)
    client.get(url)  # the session's first save is not the page's
    few = count(client, url)
    add_rows(team_a, users, 25)
    many = count(client, url)
    assert many == few, f"{page}: {few} queries with 2 rows of each kind, {many} with 27"
    assert many <= BOUND

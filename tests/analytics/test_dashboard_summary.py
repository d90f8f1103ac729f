"""The dashboard's aggregates are computed once, when a run finishes, and stored with it.

Two real analyses of a generated portfolio (the second after more months arrive, so some
customers move): what the dashboard reads from the run's summary equals what the per-visit
queries compute from the results and the revenue, and a visit reads no result or revenue
row at all.
"""

from __future__ import annotations

import dataclasses

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.core import Params
from analytics.models import AnalysisRun
from analytics.services import analysis_run_start
from analytics.services.dashboard import (
    dashboard_summary,
    level_month_heatmap,
    run_kpis,
    run_movers,
)

from .helpers import import_portfolio

pytestmark = pytest.mark.django_db


def analyse(team, capture, **params) -> AnalysisRun:
    with capture(execute=True):
        run = analysis_run_start(team=team, params=Params(**params))
    run.refresh_from_db()
    assert run.status == "SUCCEEDED", run.error
    return run


@pytest.fixture
def two_runs(team_a, settings, django_capture_on_commit_callbacks):
    settings.ANALYSIS_CHUNK_SIZE = 30  # 90 customers → 3 chunks, whose sums add up
    import_portfolio(team_a, customers=90, end_month="2025-03")
    first = analyse(team_a, django_capture_on_commit_callbacks)
    import_portfolio(team_a, customers=90, end_month="2025-09", seed=8)
    second = analyse(team_a, django_capture_on_commit_callbacks)
    return first, second


def test_the_stored_figures_equal_what_the_queries_compute(team_a, two_runs):
    first, second = two_runs
    assert second.summary["kpis"] and second.summary["level_month_revenue"]
    assert second.summary["movers"]["previous_run_id"] == first.pk
    stored = dashboard_summary(team=team_a)
    assert stored.run == second
    assert stored.kpis == run_kpis(run=second)
    live_heatmap = level_month_heatmap(run=second)
    assert stored.heatmap.months == live_heatmap.months
    assert stored.heatmap.customers == live_heatmap.customers
    for stored_row, live_row in zip(stored.heatmap.averages, live_heatmap.averages, strict=True):
        assert stored_row == pytest.approx(live_row, abs=0.01)
    live = run_movers(run=second, previous=first)
    assert stored.movers.compared == live.compared
    assert stored.movers.new_customers == live.new_customers
    assert [dataclasses.astuple(m) for m in stored.movers.lists] == [
        dataclasses.astuple(m) for m in live.lists
    ]
    assert sum(m.total for m in live.lists) > 0  # something moved: the comparison is real


def test_a_visit_reads_no_result_and_no_revenue_row(client_for, viewer_a, team_a, two_runs):
    client = client_for(viewer_a)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard", args=[team_a.slug])).status_code == 200
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "customers_revenuerecord" not in tables
    # Only "my customers" (the visitor owns none) and "new at level 3" may touch results.
    touching = [
        q["sql"] for q in queries.captured_queries if "analytics_customerresult" in q["sql"]
    ]
    assert len(touching) <= 1, touching


def test_stored_movers_against_a_run_since_deleted_are_recomputed(team_a, two_runs):
    first, second = two_runs
    # A run between them appears as the previous one: the stored comparison no longer holds.
    AnalysisRun.objects.filter(pk=second.pk).update(
        summary={**second.summary, "movers": {**second.summary["movers"], "previous_run_id": 0}}
    )
    summary = dashboard_summary(team=team_a)
    assert summary.movers.previous_run == first
    assert summary.movers.compared == run_movers(run=second, previous=first).compared


def test_a_run_from_before_the_summary_is_still_shown_in_full(team_a, two_runs):
    _, second = two_runs
    AnalysisRun.objects.filter(pk=second.pk).update(summary={})
    summary = dashboard_summary(team=team_a)
    assert summary.kpis == run_kpis(run=second)
    assert summary.heatmap.averages == level_month_heatmap(run=second).averages
    assert summary.movers is not None


def test_a_summary_for_another_window_is_not_used(team_a, two_runs):
    _, second = two_runs
    assert len(second.summary["level_month_revenue"][0]) == len(second.months)
    shorter = [row[:-1] for row in second.summary["level_month_revenue"]]
    AnalysisRun.objects.filter(pk=second.pk).update(
        summary={**second.summary, "level_month_revenue": shorter}
    )
    assert dashboard_summary(team=team_a).heatmap.averages == (
        level_month_heatmap(run=second).averages
    )

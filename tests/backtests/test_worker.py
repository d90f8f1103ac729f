"""A backtest through a real Celery worker over Redis on PostgreSQL: each cutoff's analysis
runs in the chunks a normal run uses, and the comparison waits for them."""

from __future__ import annotations

import pytest

from analytics.models import AnalysisChunk, AnalysisRun, RunPurpose, RunStatus, current_run
from backtests.models import Backtest, BacktestStatus
from backtests.services import backtest_start
from tests.analytics.helpers import import_portfolio
from tests.conftest import wait_until_finished

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_backtest_runs_its_cutoffs_in_chunks_on_the_worker(team_a, celery_worker, settings):
    settings.ANALYSIS_CHUNK_SIZE = 25
    import_portfolio(team_a, customers=80, months=30, seed=6, end_month="2025-06")
    backtest = backtest_start(team=team_a, horizon=6)
    backtest = wait_until_finished(Backtest, backtest.pk, timeout=180)
    assert backtest.status == BacktestStatus.SUCCEEDED, backtest.error
    runs = AnalysisRun.objects.filter(pk__in=backtest.run_ids)
    assert runs.count() == 2
    for run in runs:
        assert run.purpose == RunPurpose.BACKTEST and run.status == RunStatus.SUCCEEDED
        assert AnalysisChunk.objects.filter(run=run).count() > 1
    assert [entry["cutoff"] for entry in backtest.results] == ["2024-06", "2024-12"]
    assert current_run(team_a) is None

"""The backtests page in Chromium, with a real Celery worker: an analyst starts a backtest,
watches its progress, then reads each level's fate and the anchors, charts drawn."""

from __future__ import annotations

import re

import pytest

from backtests.models import Backtest
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]


def test_analyst_runs_a_backtest_and_reads_its_results(
    page, analyst_a, team_a, celery_worker, settings
):
    settings.ANALYSIS_CHUNK_SIZE = 40
    import_portfolio(team_a, customers=200, months=30, seed=7, end_month="2025-06")
    base = page.watch.base_url
    log_in(page, analyst_a.username)
    page.click("nav >> text=Backtests")
    page.wait_for_url(f"{base}/t/{team_a.slug}/backtests/")
    assert "No backtest yet" in page.inner_text("#no-backtests")
    page.fill("#id_cutoffs", "2024-12")
    page.fill("#id_horizon", "6")
    page.click("#backtest-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/t/{team_a.slug}/backtests/\d+/$"))
    # The status panel polls; when the backtest is done the page reloads with the results.
    page.wait_for_selector("#backtest-levels-1.js-plotly-plot .main-svg", timeout=120_000)
    assert page.get_attribute("#backtest-status", "data-status") == "SUCCEEDED"
    for key in ("revenue_at_risk", "expected_revenue"):
        page.wait_for_selector(f"#backtest-calibration-{key}-1.js-plotly-plot .main-svg")
    assert page.locator(".backtest-methods tbody tr").count() == 4
    assert "Cutoff 2024-12" in page.inner_text(".backtest-cutoff h2")
    backtest = Backtest.objects.get()
    assert backtest.results[0]["population"] > 0
    screenshot(page, "backtest-results")
    page.watch.assert_clean()


def test_viewer_sees_the_history_without_the_start_form(page, viewer_a, team_a):
    log_in(page, viewer_a.username)
    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/backtests/")
    assert page.locator("#backtest-form").count() == 0
    screenshot(page, "backtests-viewer")
    page.watch.assert_clean()

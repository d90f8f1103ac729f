"""The dashboard and the runs page in Chromium, with a real Celery worker running the analysis
in the background: charts drawn, a run started with parameters, its progress bar polled until
it succeeds, and then no more polling."""

from __future__ import annotations

import re

import pytest

from analytics.core import Params
from analytics.models import AnalysisRun, RunStatus
from analytics.services import analysis_run_start
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in, screenshot
from tests.conftest import wait_until_finished

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = 600
CHUNK_SIZE = 20  # many small chunks on the solo worker: the run lasts long enough to watch


@pytest.fixture
def analysed(team_a, celery_worker, settings) -> AnalysisRun:
    settings.ANALYSIS_CHUNK_SIZE = CHUNK_SIZE
    import_portfolio(team_a, customers=CUSTOMERS, seed=5)
    run = analysis_run_start(team=team_a, params=Params())
    run = wait_until_finished(AnalysisRun, run.pk, timeout=120)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def wait_for_charts(page) -> None:
    page.wait_for_selector("#level-distribution.js-plotly-plot .main-svg")
    page.wait_for_selector("#level-heatmap.js-plotly-plot .main-svg")
    assert page.locator("#level-distribution .trace.bars .point").count() == 5
    assert page.locator("#level-heatmap .hm").count() == 1  # the heatmap's image


def test_analyst_reads_the_dashboard_and_runs_an_analysis_in_the_background(
    page, analyst_a, team_a, analysed
):
    base = page.watch.base_url
    log_in(page, analyst_a.username)
    page.wait_for_url(f"{base}/t/{team_a.slug}/")
    wait_for_charts(page)
    assert page.inner_text("#kpi-customers") == f"{analysed.customers_count:,}"
    assert "appear after the team's next successful run" in page.inner_text("#movers")

    page.click("nav >> text=Runs")
    page.wait_for_url(f"{base}/t/{team_a.slug}/runs/")
    assert page.locator(f"#run-{analysed.pk}").count() == 1
    page.fill("#id_window_end", "2025-05")
    page.fill("#id_alpha", "0.1")
    page.fill("#id_segments", "3")
    page.fill("#id_anomaly_z", "3")
    status_requests: list[str] = []
    page.on("request", lambda r: "/status/" in r.url and status_requests.append(r.url))
    page.click("#run-form button[type=submit]")

    page.wait_for_url(re.compile(rf"/t/{team_a.slug}/runs/\d+/$"))
    run = AnalysisRun.objects.exclude(pk=analysed.pk).get()
    assert page.get_attribute("#run-status", "data-status") in {"PENDING", "RUNNING"}
    assert page.locator("#run-status progress").count() == 1
    screenshot(page, "run-progress")

    page.wait_for_selector("#run-status[data-status=SUCCEEDED]", timeout=120_000)
    assert page.locator("#run-status progress").count() == 0
    assert "Succeeded" in page.inner_text("#run-status h2")
    assert status_requests, "the progress bar never polled"
    polled = len(status_requests)
    page.wait_for_timeout(2_600)  # longer than the polling interval
    assert len(status_requests) == polled, "polling went on after the run finished"

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.window_end.isoformat() == "2025-05-01"
    assert (run.params["alpha"], run.params["segments"], run.params["anomaly_z"]) == (0.1, 3, 3.0)

    page.click("nav >> text=Runs")
    page.wait_for_selector(f"#run-{run.pk}[data-status=SUCCEEDED]")
    assert "α 0.1 · k 3\n|z| 3.0" in page.inner_text(f"#run-{run.pk}")
    screenshot(page, "runs")

    page.click("nav >> text=Dashboard")
    wait_for_charts(page)
    assert f"run #{analysed.pk}" in page.inner_text("#movers")  # compared with the first run
    screenshot(page, "dashboard")
    page.watch.assert_clean()

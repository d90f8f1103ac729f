"""Every page a team member opens, at a laptop's width and a phone's: each renders without
console errors, none scrolls sideways, the risk pages explain their levels and headings, and
a screenshot of each is kept in test-artifacts/screenshots/tour-<width>-<page>.png."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def analysed(team_a, admin_a):
    from analytics.core import Params
    from analytics.services import analysis_run_start
    from backtests.services import backtest_start
    from reports.models import ReportKind
    from reports.services import report_create, report_generate_now
    from tests.analytics.helpers import import_portfolio

    team_a.currency = "EUR"
    team_a.save(update_fields=["currency"])
    upload = import_portfolio(team_a, customers=80, seed=5)
    run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    report = report_create(team=team_a, user=admin_a, kind=ReportKind.PORTFOLIO, scope={})
    report = report_generate_now(report=report)
    backtest = backtest_start(team=team_a, horizon=6)
    return run, upload, report, backtest


@pytest.mark.parametrize("width", [1366, 390])
def test_every_page_at_a_laptop_and_a_phone_width(page, admin_a, team_a, analysed, width):
    run, upload, report, backtest = analysed
    from analytics.models import CustomerResult

    customer = (
        CustomerResult.objects.filter(run=run, decline_level=3)
        .order_by("-revenue_at_risk")
        .values_list("customer__external_id", flat=True)
        .first()
    )
    team = f"/t/{team_a.slug}"
    pages = {
        "dashboard": f"{team}/",
        "customers": f"{team}/customers/",
        "customer": f"{team}/customers/{customer}/",
        "segments": f"{team}/segments/",
        "runs": f"{team}/runs/",
        "run": f"{team}/runs/{run.pk}/",
        "uploads": f"{team}/uploads/",
        "upload": f"{team}/uploads/{upload.pk}/",
        "reports": f"{team}/reports/",
        "report": f"{team}/reports/{report.pk}/",
        "backtests": f"{team}/backtests/",
        "backtest": f"{team}/backtests/{backtest.pk}/",
        "alerts": f"{team}/alerts/",
        "schedule": f"{team}/schedule/",
        "help": "/help/",
    }
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, admin_a.username)
    wide = {}
    for name, path in pages.items():
        response = page.goto(f"{page.watch.base_url}{path}")
        assert response is not None and response.status == 200, (name, path)
        page.wait_for_load_state("networkidle")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            wide[name] = scroll
        if name in ("dashboard", "customers"):
            assert page.locator("#level-legend").count() == 1, name
        if name == "customers":
            described = page.locator("#risk-table thead th[title][aria-describedby]")
            assert described.count() >= 5
        screenshot(page, f"tour-{width}-{name}")
        screenshot(page, f"tour-{width}-{name}-first-screen", full_page=False)
    assert wide == {}, wide
    page.watch.assert_clean()

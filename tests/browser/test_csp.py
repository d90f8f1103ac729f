"""A strict Content-Security-Policy on every page, and no page breaks it: Chromium reports
every violation (a blocked script, style, eval or image) as a `securitypolicyviolation`."""

from __future__ import annotations

import pytest

from analytics.core import Params
from analytics.services import analysis_run_start
from backtests.services import backtest_start
from reports.services import report_request
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


@pytest.fixture
def everything(team_a, admin_a, settings):
    """A team with results, a report, a backtest and an upload: every page has content."""
    upload = import_portfolio(team_a, customers=40, months=30, seed=8)
    run = analysis_run_start(team=team_a, params=Params())
    report = report_request(team=team_a, kind="portfolio", scope={})
    backtest = backtest_start(team=team_a)
    return {"upload": upload, "run": run, "report": report, "backtest": backtest}


def test_every_page_is_served_with_a_strict_policy_and_breaks_none_of_it(
    page, admin_a, team_a, everything
):
    page.add_init_script(RECORD_VIOLATIONS)
    base = page.watch.base_url
    page.goto(f"{base}/accounts/login/")
    assert page.evaluate("window.__cspViolations") == []
    log_in(page, admin_a.username)
    customer = everything["run"].results.order_by("-revenue_at_risk").first().customer
    paths = [
        "/", "customers/", f"customers/{customer.external_id}/", "segments/", "runs/",
        f"runs/{everything['run'].pk}/", "reports/", f"reports/{everything['report'].pk}/",
        "backtests/", f"backtests/{everything['backtest'].pk}/", "uploads/",
        f"uploads/{everything['upload'].pk}/",
    ]  # fmt: skip
    for path in paths:
        url = f"{base}/t/{team_a.slug}/{path.lstrip('/')}"
        response = page.goto(url)
        assert response.status == 200, path
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["content-security-policy"].split(";")
        )
        assert policy["script-src"] == "'self'", policy  # no inline script, no eval
        assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
        assert "unsafe" not in policy["style-src-elem"]
        page.wait_for_load_state("networkidle")
        if page.locator(".js-plotly-plot").count():
            page.wait_for_selector(".js-plotly-plot .main-svg")
            page.locator(".js-plotly-plot").first.hover()  # hover labels draw too
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], (path, violations)
    page.watch.assert_clean()

from __future__ import annotations

from urllib.parse import quote

import pytest

from analytics.core import Params
from analytics.models import CustomerResult, RunStatus
from analytics.services import analysis_run_start
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def declining_customer(team_a):
    """A finished analysis and its customer with anomalies, the worst declining one first."""
    import_portfolio(team_a, customers=80, months=36, seed=5)
    run = analysis_run_start(team=team_a, params=Params())  # eager tasks: finished on commit
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    result = (
        CustomerResult.objects.filter(run=run, anomaly_count__gt=0, decline_level__gte=1)
        .order_by("-decline_level", "-anomaly_count", "-revenue_at_risk")
        .select_related("customer")
        .first()
    ) or CustomerResult.objects.filter(run=run, anomaly_count__gt=0).select_related(
        "customer"
    ).first()
    assert result is not None, "the demo portfolio has no customer with anomalies"
    return result


def anomaly_trace(page) -> dict | None:
    """The chart's trace named like "Anomalies", as Plotly holds it."""
    return page.evaluate(
        """() => {
          const trace = document.getElementById('customer-chart').data
            .find(t => /anomal/i.test(t.name));
          return trace ? {name: trace.name, points: trace.x.length, color: trace.marker.color,
                          hover: trace.hovertemplate, labels: trace.customdata} : null;
        }"""
    )


def test_viewer_opens_a_customer_and_the_chart_shows_its_anomalies(
    page, viewer_a, team_a, declining_customer
):
    log_in(page, viewer_a.username)
    external_id = declining_customer.customer.external_id
    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/customers/{quote(external_id, safe='')}/")

    page.wait_for_selector("#customer-chart.js-plotly-plot .main-svg")
    trace = anomaly_trace(page)
    assert trace is not None and trace["name"] == "Anomalies"
    assert trace["points"] == declining_customer.anomaly_count >= 1
    assert trace["color"].lower() == "#c0262d"  # red: the stylesheet's --level-3
    assert "vs expected" in trace["hover"] and "z = " in trace["hover"]
    assert len(trace["labels"]) == trace["points"]
    # The anomaly markers are drawn, not only listed in the data.
    assert page.locator("#customer-chart .scatterlayer .trace .point").count() >= 1
    assert page.inner_text("h1").endswith(external_id)
    assert "Why this level" in page.inner_text(".why")
    assert page.locator("#anomalies tbody tr").count() == declining_customer.anomaly_count
    assert page.locator("#level-history tbody tr").count() == 1
    assert page.locator("#llm-summary").is_visible()

    page.watch.assert_clean()
    screenshot(page, "customer-detail")

from __future__ import annotations

import pytest

from analytics.core import Params
from analytics.models import CustomerResult, RunStatus, Segment
from analytics.services import analysis_run_start
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in, screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def analysed_run(team_a):
    """A small real portfolio, analysed (eager tasks: finished on commit)."""
    import_portfolio(team_a, customers=80, months=36, seed=5)
    run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.segments_count >= 2, "the demo portfolio should split into segments"
    return run


def radar_traces(page) -> list[dict]:
    return page.evaluate(
        """() => document.getElementById('segments-chart').data.map(t => ({
             type: t.type, name: t.name, fill: t.fill, points: t.r.length,
             visible: t.visible === undefined ? true : t.visible}))"""
    )


def test_viewer_sees_the_radar_and_opens_a_segment_in_the_risk_table(
    page, viewer_a, team_a, analysed_run
):
    segments = list(Segment.objects.filter(run=analysed_run).order_by("number"))
    log_in(page, viewer_a.username)
    page.click("nav.mainnav >> text=Segments")
    page.wait_for_url(f"{page.watch.base_url}/t/{team_a.slug}/segments/")

    page.wait_for_selector("#segments-chart.js-plotly-plot .main-svg")
    traces = radar_traces(page)
    assert [t["name"] for t in traces] == [f"{s.number} · {s.name}" for s in segments]
    assert {t["type"] for t in traces} == {"scatterpolar"}
    assert {t["fill"] for t in traces} == {"toself"}
    assert {t["points"] for t in traces} == {7}  # six axes, the polygon closed
    assert page.locator("#segments-chart .legend .traces").count() == len(segments)
    assert page.locator("#segment-table tbody tr.segment-row").count() == len(segments)

    # At a laptop's width nothing runs off the page.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "segments")

    # The legend toggles a segment off and on again.
    page.locator("#segments-chart .legend .traces").first.click()
    wait_until(
        page, "() => document.getElementById('segments-chart').data[0].visible === 'legendonly'"
    )
    page.wait_for_timeout(500)  # two clicks within Plotly's 300 ms are a double click
    page.locator("#segments-chart .legend .traces").first.click()
    wait_until(
        page, "() => document.getElementById('segments-chart').data[0].visible !== 'legendonly'"
    )
    assert radar_traces(page)[0]["visible"] is True

    # Clicking anywhere on a segment's row opens the risk table filtered to it.
    target = segments[-1]
    page.locator(f'#segment-table tr[data-segment="{target.number}"]').click()
    page.wait_for_url(f"**/t/{team_a.slug}/customers/?segment={target.number}")
    page.wait_for_selector("#risk-table")
    assert page.input_value("#id_segment") == str(target.number)
    shown = page.locator("#risk-table tbody th.customer a").all_inner_texts()
    expected = set(
        CustomerResult.objects.filter(run=analysed_run, segment=target.number).values_list(
            "customer__external_id", flat=True
        )
    )
    assert shown and set(shown) <= expected
    assert len(shown) == min(len(expected), 50)
    numbers = page.locator("#risk-table tbody td.segment .segment-number").all_inner_texts()
    assert set(numbers) == {str(target.number)}

    page.watch.assert_clean()
    screenshot(page, "segments-risk-table")

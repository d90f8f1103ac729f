"""The risk table in Chromium: HTMX swaps that update the URL, and the back button."""

from __future__ import annotations

import re

import pytest

from analytics.core import Params
from analytics.models import AnalysisRun, RunStatus
from analytics.services import analysis_run_start
from tests.analytics.helpers import import_portfolio
from tests.browser.conftest import log_in, screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def analysed(team_a) -> AnalysisRun:
    import_portfolio(team_a, customers=120, seed=4)
    run = analysis_run_start(team=team_a, params=Params())  # eager, queued on commit
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.level_3_count > 1
    return run


def row_texts(page, column: int) -> list[str]:
    return page.locator(f"#risk-table tbody tr > :nth-child({column})").all_inner_texts()


def p_value(text: str) -> float:
    if text == "–":  # no test could be made: listed last
        return float("inf")
    return 0.0 if text.startswith("<") else float(text)


def test_filter_sort_and_back_button_swap_the_table_in_place(page, viewer_a, team_a, analysed):
    base = f"{page.watch.base_url}/t/{team_a.slug}/customers/"
    log_in(page, viewer_a.username)
    page.click("nav >> text=Customers")
    page.wait_for_url(base)
    page.wait_for_selector("#risk-table tbody tr")
    assert page.inner_text("#risk-summary").startswith("Showing 1–50 of 120")
    # A full navigation would lose this; an HTMX swap keeps it.
    page.evaluate("window.riskMarker = 'same page'")

    page.select_option("#id_level", "3")
    page.wait_for_url(re.compile(r"level=3"))
    wait_until(
        page, "document.querySelectorAll('#risk-table tbody .level:not(.level-3)').length === 0"
    )
    levels = row_texts(page, 2)
    assert len(levels) == analysed.level_3_count
    assert all(text == "3 · Sharp decline" for text in levels)
    assert page.evaluate("window.riskMarker") == "same page"
    filtered_url = page.url

    page.click("#risk-table th a[data-sort-key=p_value]")
    page.wait_for_selector('#risk-table table[data-sort="p_value"]')
    assert re.search(r"level=3.*sort=p_value", page.url), page.url
    values = [p_value(text) for text in row_texts(page, 10)]
    assert values == sorted(values) and len(values) == analysed.level_3_count
    assert page.evaluate("window.riskMarker") == "same page"
    assert page.get_attribute("#id_sort", "value") == "p_value"  # the form follows the table

    page.go_back()
    page.wait_for_url(filtered_url)
    page.wait_for_selector('#risk-table table[data-sort="-revenue_at_risk"]')
    assert all(text == "3 · Sharp decline" for text in row_texts(page, 2))
    assert page.input_value("#id_level") == "3"
    assert page.evaluate("window.riskMarker") == "same page"
    screenshot(page, "risk-table")

    page.go_back()
    page.wait_for_url(base)
    wait_until(
        page, "document.querySelectorAll('#risk-table tbody .level:not(.level-3)').length > 0"
    )
    assert page.input_value("#id_level") == ""
    screenshot(page, "risk-table-all")
    page.watch.assert_clean()


def test_search_box_filters_as_you_type(page, viewer_a, team_a, analysed):
    log_in(page, viewer_a.username)
    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/customers/?sort=-anomaly_count")
    first_id = page.inner_text("#risk-table tbody tr:first-child th.customer a")
    page.fill("#id_q", first_id)
    page.wait_for_url(re.compile(r"q=" + re.escape(first_id)))
    wait_until(
        page,
        "document.querySelectorAll('#risk-table tbody tr').length >= 1 && "
        "[...document.querySelectorAll('#risk-table tbody th.customer a')].every("
        f"t => t.innerText.toLowerCase().includes({first_id.lower()!r}))",
    )
    assert "sort=-anomaly_count" in page.url  # the sort survives a search
    page.watch.assert_clean()

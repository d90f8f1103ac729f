"""The follow-up in Chromium: a bulk owner assignment from the risk table, a status with a
note on the customer page, and a dismissed customer leaving the default view and coming
back when its level worsens."""

from __future__ import annotations

import re

import pytest

from customers.models import Customer, FollowUp
from tests.analytics.test_follow_up import START, make_run
from tests.browser.conftest import log_in, screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def run(team_a):
    return make_run(
        team_a, {k: v[0] for k, v in START.items()}, {k: v[1] for k, v in START.items()}
    )


def table_ids(page) -> list[str]:
    return page.locator("#risk-table tbody th.customer a").all_inner_texts()


def test_an_analyst_assigns_an_owner_to_ticked_customers(page, analyst_a, viewer_a, team_a, run):
    base = f"{page.watch.base_url}/t/{team_a.slug}/customers/"
    log_in(page, analyst_a.username)
    page.goto(base)
    page.wait_for_selector("#risk-table tbody tr")
    page.evaluate("window.marker = 'same page'")
    page.check("#risk-table input[aria-label='Tick K-1']")
    page.check("#risk-table input[aria-label='Tick K-3']")
    page.select_option("#bulk-owner-select", label=viewer_a.username)
    page.click("#bulk-owner-submit")
    page.wait_for_selector("#risk-notice")
    assert page.inner_text("#risk-notice") == f"2 customers now with {viewer_a.username}."
    assert page.evaluate("window.marker") == "same page"  # swapped in place
    cells = page.locator("#risk-table td.owner").all_inner_texts()
    owners = dict(zip(table_ids(page), cells, strict=True))
    assert owners == {"K-1": viewer_a.username, "K-2": "–", "K-3": viewer_a.username,
                      "K-4": "–", "K-5": "–"}  # fmt: skip
    # "Tick every customer on this page", then filter by the new owner.
    page.check("#pick-all")
    assert page.locator("#risk-table input[name=customer]:checked").count() == 5
    page.select_option("#id_owner", viewer_a.username)
    page.wait_for_url(re.compile(rf"owner={viewer_a.username}"))
    wait_until(page, "document.querySelectorAll('#risk-table tbody th.customer').length === 2")
    assert table_ids(page) == ["K-1", "K-3"]
    screenshot(page, "follow-up-bulk-owner")
    page.watch.assert_clean()


def test_a_status_with_a_note_then_not_a_risk_hides_until_the_level_worsens(
    page, analyst_a, team_a, run
):
    log_in(page, analyst_a.username)
    customer_url = f"{page.watch.base_url}/t/{team_a.slug}/customers/K-2/"
    page.goto(customer_url)
    page.select_option("#id_follow_up_status", "contacted")
    page.fill("#id_follow_up_note", "Called the buyer, **budget freeze** until March")
    page.click("#follow-up-save")
    wait_until(page, "document.querySelector('#follow-up').dataset.status === 'contacted'")
    assert page.inner_text("#follow-up-status") == "Contacted"
    assert page.inner_text("#notes strong >> nth=1") == "budget freeze"
    assert "Contacted" in page.inner_text("#status-history")

    # Not a risk without a reason: refused, nothing changed.
    page.select_option("#id_follow_up_status", "not_a_risk")
    page.click("#follow-up-save")
    page.wait_for_selector("#follow-up-error")
    assert page.inner_text("#follow-up-error") == "Say why this customer is not a risk."
    assert Customer.objects.get(team=team_a, external_id="K-2").follow_up == FollowUp.CONTACTED
    page.select_option("#id_follow_up_status", "not_a_risk")
    page.fill("#id_follow_up_reason", "Orders quarterly; the gap is normal")
    page.click("#follow-up-save")
    wait_until(page, "document.querySelector('#follow-up').dataset.status === 'not_a_risk'")
    assert "Left out of the default view" in page.inner_text("#follow-up-hidden")
    screenshot(page, "follow-up-customer-panel")

    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/customers/")
    assert table_ids(page) == ["K-1", "K-3", "K-4", "K-5"]
    page.select_option("#id_status", "all")
    wait_until(page, "document.querySelectorAll('#risk-table tbody th.customer').length === 5")

    make_run(team_a, {"K-1": 3, "K-2": 3}, {"K-1": 100, "K-2": 900})  # K-2 worsens: 2 → 3
    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/customers/")
    assert table_ids(page) == ["K-2", "K-1"]
    assert "Not a risk" in page.inner_text("#risk-table tbody tr >> nth=0")
    page.watch.assert_clean()

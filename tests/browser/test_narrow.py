"""At phone width the top bar folds its team pages into a menu and the bar itself never
scrolls sideways."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.mark.parametrize("width", [390, 1366])
def test_the_top_bar_fits_and_its_menu_opens(page, viewer_a, team_a, width):
    page.set_viewport_size({"width": width, "height": 844})
    log_in(page, viewer_a.username)
    bar_width = page.evaluate("document.querySelector('header.topbar').scrollWidth")
    assert bar_width <= width
    customers = page.locator("nav.mainnav >> text=Customers")
    if width < 1100:
        assert not customers.is_visible()
        page.click("label.nav-toggle-label")
        assert customers.is_visible()
        screenshot(page, "narrow-menu-open")
    else:
        assert customers.is_visible() and not page.is_visible("label.nav-toggle-label")
        top = page.evaluate("document.querySelector('nav.mainnav').getBoundingClientRect().top")
        right = page.evaluate("document.querySelector('.topbar-right').getBoundingClientRect().top")
        assert abs(top - right) < 20  # one row at 1366 px
    customers.click()
    page.wait_for_url(f"**/t/{team_a.slug}/customers/")
    page.watch.assert_clean()


PAGES = ["", "customers/", "segments/", "runs/", "uploads/", "reports/", "backtests/", "alerts/"]


@pytest.fixture
def analysed(team_a):
    from analytics.core import Params
    from analytics.services import analysis_run_start
    from tests.analytics.helpers import import_portfolio

    import_portfolio(team_a, customers=60, seed=5)
    run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    return run


def test_no_page_scrolls_sideways_on_a_phone(page, admin_a, team_a, analysed):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, admin_a.username)
    wide = {}
    for path in PAGES:
        page.goto(f"{page.watch.base_url}/t/{team_a.slug}/{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[path] = width
    assert wide == {}, wide
    page.goto(f"{page.watch.base_url}/t/{team_a.slug}/customers/")
    screenshot(page, "narrow-risk-table")
    first = page.locator("#risk-table tbody tr").first
    # A card: the customer, its level, the money at risk and why.
    assert first.locator("th.customer a").is_visible()
    assert (
        first.locator("td.level-cell").is_visible() and first.locator("td.risk-cell").is_visible()
    )
    assert not first.locator("td.p-cell").is_visible()
    page.watch.assert_clean()

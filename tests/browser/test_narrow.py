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

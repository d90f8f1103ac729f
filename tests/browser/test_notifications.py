"""The notifications bell in Chromium: loaded after the page, the unread count, the menu,
mark all read."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, screenshot, wait_until
from tests.workflow.helpers import judged
from workflow.models import AlertRule, Notification, RuleKind

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def test_the_bell_shows_the_unread_and_marks_them_read(page, admin_a, team_a):
    AlertRule.objects.create(team=team_a, kind=RuleKind.LEVEL, threshold=3)
    judged(team_a, {"N-1": {"level": 1}, "N-2": {"level": 0}})
    judged(team_a, {"N-1": {"level": 3}, "N-2": {"level": 3}})
    log_in(page, admin_a.username)
    page.wait_for_selector("#unread-count")
    assert page.inner_text("#unread-count") == "2"
    page.click("#bell-menu summary")
    assert page.is_visible("#bell-menu .bell-panel")
    assert "N-1" in page.inner_text("#bell-menu .bell-panel")
    screenshot(page, "notifications-bell")
    page.click("#mark-read")
    wait_until(page, "document.querySelector('#unread-count') === null")
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    page.click("#bell-menu summary")
    page.click("#bell-menu >> text=All notifications")
    page.wait_for_selector("#notification-list")
    assert page.locator("#notification-list tbody tr").count() == 2
    page.watch.assert_clean()

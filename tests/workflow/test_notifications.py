"""Each user's notifications: the bell's unread count and menu, mark read, the list, the
delivery settings — a user sees only their own, for teams they are still in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from workflow.models import AlertRule, Cadence, DeliveryPreference, Notification, RuleKind

from .helpers import judged

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def alerted(team_a, admin_a):
    AlertRule.objects.create(team=team_a, kind=RuleKind.LEVEL, threshold=2)
    judged(team_a, {"A-1": {"level": 0}, "A-2": {"level": 1}})
    judged(team_a, {"A-1": {"level": 3}, "A-2": {"level": 2}})
    return Notification.objects.filter(user=admin_a)


def test_the_bell_counts_and_lists_the_unread(client_for, admin_a, alerted):
    html = client_for(admin_a).get(reverse("notifications_menu")).content.decode()
    assert '<span class="badge" id="unread-count">2</span>' in html
    assert ">A-1</a>: level 0 (stable or growing) → 3 (sharp decline)" in html
    assert 'href="/t/acme/customers/A-1/"' in html


def test_mark_read_from_the_menu_and_from_the_page(client_for, admin_a, alerted):
    client = client_for(admin_a)
    one = alerted.get(alert__customer__external_id="A-1")
    html = client.post(reverse("notifications_read"), {"id": one.pk}, **HTMX).content.decode()
    assert '<span class="badge" id="unread-count">1</span>' in html
    client.post(reverse("notifications_read"))
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    menu = client.get(reverse("notifications_menu")).content.decode()
    assert "unread-count" not in menu and "Notifications, 0 unread" in menu


def test_others_see_nothing_of_them(client_for, viewer_a, admin_b, alerted):
    for user in (viewer_a, admin_b):
        client = client_for(user)
        assert "A-1" not in client.get(reverse("notifications_page")).content.decode()
        client.post(reverse("notifications_read"))
    assert Notification.objects.filter(read_at__isnull=True).count() == 2


def test_a_member_who_left_no_longer_sees_the_teams_notifications(client_for, admin_a, alerted):
    admin_a.memberships.all().delete()
    assert "A-1" not in client_for(admin_a).get(reverse("notifications_page")).content.decode()


def test_settings_save_the_choices_and_refuse_nonsense(client_for, viewer_a):
    client = client_for(viewer_a)
    url = reverse("notification_settings")
    assert 'value="daily" selected' in client.get(url).content.decode()  # e-mail's default
    client.post(url, {"in_app": "off", "email": "immediate", "weekly_digest": ""})
    saved = DeliveryPreference.objects.get(user=viewer_a)
    assert (saved.in_app, saved.email, saved.weekly_digest) == (
        Cadence.OFF, Cadence.IMMEDIATE, False
    )  # fmt: skip
    bad = client.post(url, {"in_app": "hourly", "email": "off"}, follow=True)
    assert "Choose immediately, daily digest or off." in bad.content.decode()
    saved.refresh_from_db()
    assert saved.in_app == Cadence.OFF


@pytest.mark.parametrize(
    "name", ["notifications_page", "notifications_menu", "notification_settings"]
)
def test_anonymous_is_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

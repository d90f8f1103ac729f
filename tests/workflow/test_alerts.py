"""Alert rules judged at the end of each run against the previous one: only changes for the
worse, never twice for the same state, to the owner or else the admins, by each user's
choices; rules refused when they make no sense; admins only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from analytics.models import AnalysisRun, RunPurpose
from audit.models import AuditEvent
from customers.models import Customer
from workflow.models import Alert, AlertRule, Cadence, DeliveryPreference, Notification, RuleKind
from workflow.tasks import alerts_evaluate_task, daily_digest_task

from .helpers import judged, make_run

pytestmark = pytest.mark.django_db


def rule(team, kind: str, threshold=None) -> AlertRule:
    value = None if threshold is None else Decimal(str(threshold))
    return AlertRule.objects.create(team=team, kind=kind, threshold=value)


@pytest.fixture
def people(team_a, admin_a, analyst_a, viewer_a):
    for user in (admin_a, analyst_a, viewer_a):
        user.email = f"{user.username}@example.com"
        user.save()
    return admin_a, analyst_a, viewer_a


def alerts(team) -> list[tuple[str, str]]:
    return sorted(
        Alert.objects.filter(team=team).values_list("customer__external_id", "rule__kind")
    )


def test_the_first_run_is_the_baseline_and_raises_nothing(team_a, people):
    rule(team_a, RuleKind.LEVEL, 3)
    judged(team_a, {"A": {"level": 3}})
    assert alerts(team_a) == []


def test_entering_level_3_raises_one_alert_per_rule_and_a_second_identical_run_none(team_a, people):
    admin, _, _ = people
    DeliveryPreference.objects.create(user=admin, email=Cadence.IMMEDIATE)
    level = rule(team_a, RuleKind.LEVEL, 3)
    money = rule(team_a, RuleKind.REVENUE_AT_RISK, 1000)
    judged(team_a, {"A": {"level": 1, "risk": 100}, "B": {"level": 3, "risk": 5000}})
    run = judged(team_a, {"A": {"level": 3, "risk": 4500}, "B": {"level": 3, "risk": 5000}})
    assert alerts(team_a) == [("A", "level"), ("A", "revenue_at_risk")]
    alert = Alert.objects.get(rule=level)
    assert alert.message == "level 1 (mild decline) → 3 (sharp decline)" and alert.run == run
    assert Alert.objects.get(rule=money).message == "revenue at risk 4,500"
    # Unowned: the admins hear of it — in the bell at once, and (by choice) by e-mail at once.
    notes = Notification.objects.filter(alert__run=run)
    assert sorted(notes.values_list("user__username", flat=True)) == [admin.username] * 2
    assert all(n.shown_at is not None for n in notes)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [admin.email]
    assert "2 new alerts" in mail.outbox[0].subject and "A (Acme Ltd)" in mail.outbox[0].body

    judged(team_a, {"A": {"level": 3, "risk": 4500}, "B": {"level": 3, "risk": 5000}})
    assert Alert.objects.count() == 2 and Notification.objects.count() == 2
    assert len(mail.outbox) == 1


def test_judging_a_run_twice_changes_nothing(team_a, people):
    rule(team_a, RuleKind.LEVEL, 2)
    judged(team_a, {"A": {"level": 0}})
    run = judged(team_a, {"A": {"level": 2}})
    alerts_evaluate_task.apply(args=[run.pk]).get()
    assert Alert.objects.count() == 1 and Notification.objects.count() == 1


@pytest.mark.parametrize(
    "kind, threshold, before, after, fires",
    [
        (RuleKind.LEVEL, 2, {"level": 3}, {"level": 2}, False),  # better: no alert
        (RuleKind.LEVEL, 2, {"level": None}, {"level": 2}, True),
        (RuleKind.CHURNED, None, {"churned": False}, {"churned": True}, True),
        (RuleKind.CHURNED, None, {"churned": True}, {"churned": True}, False),
        (RuleKind.REVENUE_AT_RISK, 1000, {"risk": 2000}, {"risk": 3000}, False),
        (RuleKind.P_ACTIVE, 0.3, {"p_active": 0.8}, {"p_active": 0.2}, True),
        (RuleKind.P_ACTIVE, 0.3, {"p_active": 0.2}, {"p_active": 0.1}, False),
        (RuleKind.P_ACTIVE, 0.3, {"p_active": 0.1}, {"p_active": 0.5}, False),
    ],
)
def test_only_changes_for_the_worse_fire(team_a, people, kind, threshold, before, after, fires):
    rule(team_a, kind, threshold)
    judged(team_a, {"A": before})
    judged(team_a, {"A": after})
    assert len(alerts(team_a)) == (1 if fires else 0)


def test_an_anomaly_fires_once_for_its_month(team_a, people):
    rule(team_a, RuleKind.ANOMALY, 4)
    judged(team_a, {"A": {}}, {"A": [(date(2025, 1, 1), 5.0)]})
    second = judged(team_a, {"A": {}}, {"A": [(date(2025, 1, 1), 5.2), (date(2025, 5, 1), 3.0)]})
    assert alerts(team_a) == []  # January was flagged before; May is below Z
    judged(team_a, {"A": {}}, {"A": [(date(2025, 1, 1), 5.2), (date(2025, 6, 1), 6.5)]})
    alert = Alert.objects.get()
    assert alert.message == "anomaly in 2025-06, z = 6.5" and alert.run_id != second.pk


def test_the_owner_hears_first_and_a_former_member_falls_back_to_the_admins(
    team_a, people, admin_b
):
    admin, _, viewer = people
    rule(team_a, RuleKind.LEVEL, 2)
    judged(team_a, {"A": {"level": 0}, "B": {"level": 0}})
    Customer.objects.filter(external_id="A").update(owner=viewer)
    Customer.objects.filter(external_id="B").update(owner=admin_b)  # not in team A
    judged(team_a, {"A": {"level": 2}, "B": {"level": 2}})
    got = sorted(Notification.objects.values_list("alert__customer__external_id", "user__username"))
    assert got == [("A", viewer.username), ("B", admin.username)]


def test_each_user_chooses_per_channel(team_a, people):
    admin, *_ = people
    DeliveryPreference.objects.create(user=admin, in_app=Cadence.DAILY, email=Cadence.OFF)
    rule(team_a, RuleKind.LEVEL, 2)
    judged(team_a, {"A": {"level": 0}})
    judged(team_a, {"A": {"level": 3}})
    note = Notification.objects.get()
    assert note.shown_at is None and not note.email_due  # not in the bell yet, never e-mailed
    assert mail.outbox == []
    daily_digest_task.apply().get()
    note.refresh_from_db()
    assert note.shown_at is not None and mail.outbox == []


def test_the_daily_digest_emails_what_is_due_once(team_a, people):
    # No preference: the bell at once, e-mail in the daily digest.
    rule(team_a, RuleKind.LEVEL, 2)
    judged(team_a, {"A": {"level": 0}, "B": {"level": 1}})
    judged(team_a, {"A": {"level": 3}, "B": {"level": 2}})
    assert mail.outbox == []
    daily_digest_task.apply().get()
    assert len(mail.outbox) == 1 and "your daily digest, 2 alerts" in mail.outbox[0].subject
    daily_digest_task.apply().get()
    assert len(mail.outbox) == 1


def test_backtest_runs_raise_nothing(team_a, people):
    rule(team_a, RuleKind.LEVEL, 2)
    judged(team_a, {"A": {"level": 0}})
    run = make_run(team_a, {"A": {"level": 3}})
    AnalysisRun.objects.filter(pk=run.pk).update(purpose=RunPurpose.BACKTEST)
    alerts_evaluate_task.apply(args=[run.pk]).get()
    assert Alert.objects.count() == 0


# --- managing rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, threshold, message",
    [
        ("revenue_at_risk", "-5", "The revenue at risk must be more than 0."),
        ("level", "4", "The level must be 1, 2 or 3."),
        ("p_active", "1.5", "The probability must be between 0 and 1 (for example 0.3)."),
        ("anomaly", "-1", "The anomaly z must be more than 0."),
        ("anomaly", "lots", "The threshold 'lots' is not a number."),
        ("level", "", "The threshold '' is not a number."),
        ("sometimes", "1", "Unknown kind of rule 'sometimes'."),
    ],
)
def test_a_rule_that_makes_no_sense_is_refused(
    client_for, admin_a, team_a, kind, threshold, message
):
    response = client_for(admin_a).post(
        reverse("rule_add", args=[team_a.slug]), {"kind": kind, "threshold": threshold}, follow=True
    )
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not AlertRule.objects.exists()


def test_an_admin_adds_switches_and_removes_a_rule_and_it_is_audited(client_for, admin_a, team_a):
    client = client_for(admin_a)
    client.post(reverse("rule_add", args=[team_a.slug]), {"kind": "level", "threshold": "3"})
    added = AlertRule.objects.get()
    assert added.describe() == "Enters level 3 or worse"
    duplicate = client.post(
        reverse("rule_add", args=[team_a.slug]), {"kind": "level", "threshold": "3"}, follow=True
    )
    assert "The team already has this rule." in duplicate.content.decode()
    client.post(reverse("rule_switch", args=[team_a.slug, added.pk]))
    added.refresh_from_db()
    assert not added.enabled
    client.post(reverse("rule_remove", args=[team_a.slug, added.pk]))
    assert not AlertRule.objects.exists()
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert [a for a in actions if a.startswith("alert_rule")] == [
        "alert_rule.create", "alert_rule.toggle", "alert_rule.delete"
    ]  # fmt: skip


@pytest.mark.parametrize("user", ["analyst_a", "viewer_a"])
def test_only_admins_change_rules_but_everyone_reads_the_alerts(request, client_for, team_a, user):
    client = client_for(request.getfixturevalue(user))
    response = client.post(reverse("rule_add", args=[team_a.slug]), {"kind": "churned"})
    assert response.status_code == 403 and not AlertRule.objects.exists()
    page = client.get(reverse("alerts_page", args=[team_a.slug]))
    assert page.status_code == 200 and 'id="rule-form"' not in page.content.decode()


@pytest.mark.parametrize(
    "name, args",
    [
        ("alerts_page", []), ("rule_add", []), ("rule_remove", [1]), ("rule_switch", [1]),
        ("webhook_add", []), ("webhook_detail", [1]), ("webhook_test", [1]),
        ("webhook_remove", [1]), ("schedule_page", []),
    ],
)  # fmt: skip
def test_another_teams_admin_gets_404(client_for, admin_b, team_a, name, args):
    client = client_for(admin_b)
    url = reverse(name, args=[team_a.slug, *args])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404

"""Scheduled work through the real stack: an import analysed on its own, beat's database
schedule firing a team's analysis, a real run's end raising its alerts; and the weekly digest
for an owner and for an admin of unowned customers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from accounts.models import Role
from analytics.models import AnalysisRun, RunStatus
from customers.models import Customer
from revtrend_site.celery import app as celery_app
from tests.analytics.helpers import import_csv
from workflow.digest import digest_for
from workflow.models import Alert, AlertRule, Frequency, RuleKind, TeamSchedule
from workflow.schedules import ScheduleRequest, schedule_save
from workflow.tasks import weekly_digest_task

from .helpers import make_run


def steady_csv(customers: dict[str, list[float]]) -> str:
    """Monthly revenue from 2023-01 on, one row per customer and month."""
    lines = ["customer_id,date,amount"]
    for cid, amounts in customers.items():
        for index, amount in enumerate(amounts):
            year, month = 2023 + index // 12, index % 12 + 1
            lines.append(f"{cid},{year}-{month:02d}-28,{amount:.2f}")
    return "\n".join(lines) + "\n"


STEADY = {f"S-{i}": [1000.0 + 10 * i] * 24 for i in range(8)}


@pytest.mark.django_db(transaction=True)
def test_an_import_is_analysed_on_its_own_unless_the_team_turns_it_off(team_a, settings):
    settings.ANALYSE_AFTER_IMPORT = True
    upload = import_csv(team_a, steady_csv(STEADY))
    run = AnalysisRun.objects.get(team=team_a)
    assert run.status == RunStatus.SUCCEEDED and run.customers_count == 8
    assert upload.uploaded_by is None
    TeamSchedule.objects.create(team=team_a, analyse_after_import=False)
    import_csv(team_a, steady_csv({"N-1": [500.0] * 24}), name="more.csv")
    assert AnalysisRun.objects.filter(team=team_a).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_runs_end_raises_its_alerts(team_a, admin_a):
    """The previous analysis had D-1 steady; a real analysis of data where it collapsed ends
    with one alert per rule, through the run_succeeded signal."""
    make_run(team_a, {"D-1": {"level": 0}, **{cid: {"level": 0} for cid in STEADY}})
    AlertRule.objects.create(team=team_a, kind=RuleKind.LEVEL, threshold=Decimal(3))
    AlertRule.objects.create(team=team_a, kind=RuleKind.LEVEL, threshold=Decimal(2))
    collapse = [3000.0] * 12 + [3000.0 * 0.7**k for k in range(1, 13)]
    import_csv(team_a, steady_csv({**STEADY, "D-1": collapse}))
    from analytics.core import Params
    from analytics.services import analysis_run_start

    run = analysis_run_start(team=team_a, params=Params())
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    raised = Alert.objects.filter(run=run)
    assert sorted(raised.values_list("customer__external_id", "rule__threshold")) == [
        ("D-1", Decimal("2.0000")), ("D-1", Decimal("3.0000"))
    ]  # fmt: skip
    assert {n.user_id for a in raised for n in a.notifications.all()} == {admin_a.pk}


@pytest.mark.django_db(transaction=True)
def test_beats_database_schedule_fires_the_teams_analysis(team_a, admin_a, settings):
    import_csv(team_a, steady_csv(STEADY))
    soon = timezone.localtime() - timedelta(minutes=2)
    schedule_save(
        team=team_a,
        request=ScheduleRequest(True, Frequency.DAILY, 0, soon.time().replace(second=0)),
        user=admin_a,
    )
    task = PeriodicTask.objects.get(name=f"revtrend: analyse team {team_a.pk}")
    assert task.task == "workflow.tasks.scheduled_analysis_task" and task.enabled
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=timezone.now() - timedelta(days=1))
    scheduler = DatabaseScheduler(app=celery_app, lazy=True)
    entry = scheduler.all_as_schedule()[task.name]
    assert entry.is_due().is_due
    scheduler.apply_entry(entry)  # eager here: the task runs in this process
    run = AnalysisRun.objects.get(team=team_a)
    assert run.status == RunStatus.SUCCEEDED
    # Off removes the entry; the daily and weekly digests stay on beat's schedule.
    schedule_save(
        team=team_a, request=ScheduleRequest(True, Frequency.OFF, 0, soon.time()), user=admin_a
    )
    assert not PeriodicTask.objects.filter(name=task.name).exists()
    assert {"daily-digest", "weekly-digest", "watchdog"} <= set(settings.CELERY_BEAT_SCHEDULE)


@pytest.mark.django_db
def test_the_schedule_page_is_for_admins_and_refuses_bad_input(
    client_for, admin_a, analyst_a, team_a
):
    url = reverse("schedule_page", args=[team_a.slug])
    assert client_for(analyst_a).get(url).status_code == 403
    client = client_for(admin_a)
    bad = client.post(url, {"frequency": "hourly", "time": "06:00", "weekday": "0"})
    assert bad.status_code == 400 and "Unknown frequency" in bad.content.decode()
    bad_time = client.post(url, {"frequency": "daily", "time": "25:99", "weekday": "0"})
    assert bad_time.status_code == 400 and "Give the time as HH:MM." in bad_time.content.decode()
    assert (
        not TeamSchedule.objects.exists()
        and not PeriodicTask.objects.filter(name__startswith="revtrend: analyse").exists()
    )
    ok = client.post(url, {"frequency": "weekly", "time": "07:30", "weekday": "4"})
    assert ok.status_code == 302
    task = PeriodicTask.objects.get(name=f"revtrend: analyse team {team_a.pk}")
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("7", "30", "fri")
    assert not TeamSchedule.objects.get().analyse_after_import  # the box was not ticked


# --- the weekly digest ----------------------------------------------------------------------


@pytest.fixture
def week(team_a, admin_a, viewer_a):
    admin_a.email, viewer_a.email = "ada@example.com", "vera@example.com"
    admin_a.save()
    viewer_a.save()
    before = {
        "O-1": {"level": 1}, "O-2": {"level": 3}, "O-3": {"level": 2},
        "U-1": {"level": 0}, "U-2": {"level": 2},
    }  # fmt: skip
    make_run(team_a, before)
    Customer.objects.filter(external_id__startswith="O-").update(owner=viewer_a)
    now = {
        "O-1": {"level": 3, "risk": 900},  # entered 2–3
        "O-2": {"level": 0, "risk": 0},  # recovered
        "O-3": {"level": 1, "risk": 50},  # left 2–3
        "U-1": {"level": 2, "risk": 700, "churned": True},  # unowned: entered, churned
        "U-2": {"level": 2, "risk": 300},
    }
    return make_run(team_a, now)


def names(entries) -> list[str]:
    return [entry["external_id"] for entry in entries]


@pytest.mark.django_db
def test_an_owners_digest_is_about_their_customers(team_a, viewer_a, week):
    digest = digest_for(team=team_a, user=viewer_a, role=Role.VIEWER, run=week)
    assert digest.customers == 3 and digest.scope == "your customers"
    assert (names(digest.entered), names(digest.recovered), names(digest.left)) == (
        ["O-1"], ["O-2"], ["O-3"]
    )  # fmt: skip
    assert digest.churned == [] and names(digest.top) == ["O-1", "O-3"]
    assert "at level 2 or 3" in digest.paragraph  # the offline narrator's risk paragraph


@pytest.mark.django_db
def test_an_admins_digest_covers_the_unowned_customers(team_a, admin_a, week):
    digest = digest_for(team=team_a, user=admin_a, role=Role.ADMIN, run=week)
    assert digest.customers == 2  # U-1, U-2: admin_a owns nothing
    assert names(digest.entered) == ["U-1"] and names(digest.churned) == ["U-1"]
    assert names(digest.top) == ["U-1", "U-2"]


@pytest.mark.django_db
def test_the_weekly_task_emails_each_member_once(team_a, admin_a, viewer_a, analyst_a, week):
    weekly_digest_task.apply().get()
    sent = {message.to[0]: message for message in mail.outbox}
    assert set(sent) == {"ada@example.com", "vera@example.com"}  # the analyst has no address
    vera = sent["vera@example.com"].body
    assert "Entered level 2–3: 1" in vera and "- O-1: level 1 → 3, 900 at risk" in vera
    assert "U-1" not in vera.split("The portfolio:")[0]  # the paragraph is the team's
    assert "Newly churned: 1" in sent["ada@example.com"].body


@pytest.mark.django_db
def test_an_admin_sets_the_currency_and_a_bad_code_changes_nothing(client_for, admin_a, team_a):
    url = reverse("schedule_page", args=[team_a.slug])
    client = client_for(admin_a)
    bad = client.post(url, {"currency": "EURO", "frequency": "daily", "time": "06:00"})
    assert bad.status_code == 400 and "three-letter ISO code" in bad.content.decode()
    team_a.refresh_from_db()
    assert team_a.currency == "" and not TeamSchedule.objects.exists()
    client.post(url, {"currency": "gbp", "frequency": "off", "time": "06:00"})
    team_a.refresh_from_db()
    assert team_a.currency == "GBP"


@pytest.mark.django_db
def test_a_customer_new_at_level_3_has_entered_it_in_the_digest(team_a, viewer_a, week):
    from tests.workflow.helpers import make_run as run_with

    Customer.objects.create(team=team_a, external_id="O-NEW", owner=viewer_a)
    later = run_with(team_a, {"O-1": {"level": 3}, "O-NEW": {"level": 3, "risk": 50}})
    digest = digest_for(team=team_a, user=viewer_a, role=Role.VIEWER, run=later)
    assert names(digest.entered) == ["O-NEW"]  # O-1 was already at 3

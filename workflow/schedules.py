"""When a team's data is analysed without anyone pressing the button: after each successful
import (on by default), and daily or weekly at a set time through django-celery-beat's
database-held schedule (`make beat` runs its scheduler)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import time

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import Team
from analytics.models import AnalysisRun
from analytics.services import AnalysisError, RunInProgress, analysis_run_start, params_from_dict
from analytics.services.runs import run_params
from audit.services import audit_record
from customers.models import Upload

from .models import Frequency, TeamSchedule

logger = logging.getLogger(__name__)

SCHEDULED_TASK = "workflow.tasks.scheduled_analysis_task"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def team_schedule(*, team: Team) -> TeamSchedule:
    """The team's schedule (the defaults until an admin saves one)."""
    return TeamSchedule.objects.filter(team=team).first() or TeamSchedule(team=team)


def _start(team: Team, *, user=None, why: str) -> AnalysisRun | None:
    """An analysis with the parameters of the team's latest one (the defaults at first)."""
    latest = AnalysisRun.objects.filter(team=team).analyses().latest_first().first()
    params = run_params(latest) if latest is not None else params_from_dict({})
    try:
        run = analysis_run_start(team=team, params=params, user=user)
    except RunInProgress:
        logger.info("%s for %s: an analysis is already running", why, team.slug)
        return None
    except AnalysisError as exc:
        logger.warning("%s for %s not started: %s", why, team.slug, exc.message)
        return None
    audit_record(action="run.scheduled", team=team, target=run, user=user, detail=why)
    return run


def analyse_after_import(*, upload: Upload) -> AnalysisRun | None:
    if (
        not settings.ANALYSE_AFTER_IMPORT
        or not team_schedule(team=upload.team).analyse_after_import
    ):
        return None
    return _start(upload.team, user=upload.uploaded_by, why=f"after import #{upload.pk}")


def scheduled_analysis(*, team_id: int) -> AnalysisRun | None:
    team = Team.objects.filter(pk=team_id).first()
    if team is None or team_schedule(team=team).frequency == Frequency.OFF:
        return None
    return _start(team, why="on the team's schedule")


@dataclass(frozen=True)
class ScheduleRequest:
    analyse_after_import: bool
    frequency: str
    weekday: int
    at: time


def schedule_save(*, team: Team, request: ScheduleRequest, user) -> TeamSchedule:
    """Save the team's schedule and the beat entry that fires it (removed when off)."""
    if request.frequency not in Frequency.values:
        raise ValueError(f"Unknown frequency {request.frequency!r}.")
    if not 0 <= request.weekday <= 6:
        raise ValueError("The weekday must be 0 (Monday) to 6 (Sunday).")
    with transaction.atomic():
        schedule, _ = TeamSchedule.objects.select_for_update().get_or_create(team=team)
        schedule.analyse_after_import = request.analyse_after_import
        schedule.frequency = request.frequency
        schedule.weekday = request.weekday
        schedule.time = request.at
        schedule.periodic_task = _beat_entry(team, schedule)
        schedule.save()
    audit_record(
        action="schedule.change",
        team=team,
        user=user,
        detail=f"after import: {'on' if request.analyse_after_import else 'off'}; "
        f"{schedule.get_frequency_display().lower()}"
        + ("" if request.frequency == Frequency.OFF else f" at {request.at:%H:%M}"),
    )
    return schedule


def _beat_entry(team: Team, schedule: TeamSchedule) -> PeriodicTask | None:
    name = f"revtrend: analyse team {team.pk}"
    if schedule.frequency == Frequency.OFF:
        PeriodicTask.objects.filter(name=name).delete()
        return None
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=str(schedule.time.minute),
        hour=str(schedule.time.hour),
        day_of_week="*" if schedule.frequency == Frequency.DAILY else WEEKDAYS[schedule.weekday],
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=name,
        defaults={
            "task": SCHEDULED_TASK,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([team.pk]),
            "enabled": True,
        },
    )
    return task

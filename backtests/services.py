"""Backtests: start, launch one analysis per cutoff, evaluate when they have all finished.

The flow is one-way: a backtest asks analytics for runs (``purpose`` = backtest, so they are
never the team's results), waits for them like any client, then reads their results and the
revenue after each cutoff. Each run's window ends at its cutoff, so nothing after the cutoff
reaches the analysis: the matrix, the purchase process's fit and the customers judged all stop
there (tested by appending future rows).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Team
from analytics.core import Params
from analytics.models import AnalysisRun, RunPurpose, RunStatus
from analytics.services import AnalysisError, analysis_run_start, parse_month
from analytics.services.window import add_months, analysis_window, team_data_months
from audit.services import audit_record
from revtrend_site.queueing import QueueUnavailable, enqueue_on_commit

from .evaluation import cutoff_evaluate
from .models import BACKTEST_ACTIVE, Backtest, BacktestStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

logger = logging.getLogger(__name__)

# Queued by name (backtests/tasks.py imports this module, not the reverse).
LAUNCH_TASK = "backtests.tasks.backtest_launch_task"
EVALUATE_TASK = "backtests.tasks.backtest_evaluate_task"

DEFAULT_HORIZON = 6
MAX_HORIZON = 24
MAX_CUTOFFS = 6
DEFAULT_SPACING = 6  # months between the two default cutoffs
WAITING = "waiting"


class BacktestError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_cutoffs(*, team: Team, horizon: int) -> list[date]:
    """The latest month that leaves a full horizon after it, and 6 months before it."""
    last = _last_complete_month(team)
    latest = add_months(last, -horizon)
    return [add_months(latest, -DEFAULT_SPACING), latest]


def _last_complete_month(team: Team) -> date:
    try:
        return analysis_window(team=team).end
    except AnalysisError as exc:
        raise BacktestError(exc.message) from None


def cutoffs_check(*, team: Team, cutoffs: list[date], horizon: int) -> list[date]:
    """Sorted, distinct cutoffs that each leave ``horizon`` complete months after them and
    have history before them; BacktestError saying which does not."""
    if not 1 <= horizon <= MAX_HORIZON:
        raise BacktestError(f"The horizon must be 1 to {MAX_HORIZON} months.")
    cutoffs = sorted(set(cutoffs))
    if not cutoffs:
        raise BacktestError("Give at least one cutoff month.")
    if len(cutoffs) > MAX_CUTOFFS:
        raise BacktestError(f"At most {MAX_CUTOFFS} cutoffs per backtest.")
    first, _ = team_data_months(team=team)
    last = _last_complete_month(team)
    for cutoff in cutoffs:
        if add_months(cutoff, horizon) > last:
            raise BacktestError(
                f"Cutoff {cutoff:%Y-%m} leaves no {horizon} complete months after it: the "
                f"data's last complete month is {last:%Y-%m}, so the latest cutoff is "
                f"{add_months(last, -horizon):%Y-%m}."
            )
        if first is None or cutoff < first:
            raise BacktestError(f"Cutoff {cutoff:%Y-%m} is before the team's first data.")
    return cutoffs


def backtest_start(
    *,
    team: Team,
    cutoffs: list[date] | None = None,
    horizon: int = DEFAULT_HORIZON,
    user: User | AnonymousUser | None = None,
) -> Backtest:
    """Create a PENDING backtest and queue it once the transaction commits."""
    cutoffs = cutoffs_check(
        team=team,
        cutoffs=cutoffs or default_cutoffs(team=team, horizon=horizon),
        horizon=horizon,
    )
    try:
        with transaction.atomic():
            Team.objects.select_for_update().filter(pk=team.pk).first()
            _retire_or_refuse_active(team)
            backtest = Backtest.objects.create(
                team=team,
                created_by=user if user is not None and user.is_authenticated else None,
                cutoffs=[f"{cutoff:%Y-%m}" for cutoff in cutoffs],
                horizon=horizon,
                stage="queued",
            )
            enqueue_on_commit(
                LAUNCH_TASK,
                backtest.pk,
                on_failure=lambda reason: backtest_fail(backtest_id=backtest.pk, error=reason),
            )
    except QueueUnavailable as exc:
        raise BacktestError(exc.message) from exc
    audit_record(
        action="backtest started",
        team=team,
        target=backtest,
        user=user,
        detail=", ".join(backtest.cutoffs),
    )
    backtest.refresh_from_db()
    return backtest


def _retire_or_refuse_active(team: Team) -> None:
    active = Backtest.objects.filter(team=team, status__in=BACKTEST_ACTIVE).first()
    if active is None:
        return
    stale_after = timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    if timezone.now() - (active.heartbeat_at or active.created_at) < stale_after:
        raise BacktestError(f"Backtest #{active.pk} is still {active.get_status_display()}.")
    backtest_fail(backtest_id=active.pk, error="Abandoned: no progress (the worker stopped?).")


def backtest_fail(*, backtest_id: int, error: str) -> bool:
    return bool(
        Backtest.objects.filter(pk=backtest_id, status__in=BACKTEST_ACTIVE).update(
            status=BacktestStatus.FAILED, stage="failed", error=error[:4000],
            finished_at=timezone.now(),
        )
    )  # fmt: skip


def backtest_launch(*, backtest_id: int) -> bool:
    """PENDING → RUNNING once, then one analysis run per cutoff (queued; with eager tasks
    they run here and now). False when there was nothing to claim or a run could not start."""
    now = timezone.now()
    claimed = Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.PENDING).update(
        status=BacktestStatus.RUNNING, stage="analysing", progress=5, started_at=now,
        heartbeat_at=now,
    )  # fmt: skip
    if not claimed:
        return False
    backtest = Backtest.objects.select_related("team", "created_by").get(pk=backtest_id)
    run_ids = []
    try:
        for cutoff in backtest.cutoffs:
            run = analysis_run_start(
                team=backtest.team,
                params=Params(),
                user=backtest.created_by,
                window_end=parse_month(cutoff),
                purpose=RunPurpose.BACKTEST,
            )
            run_ids.append(run.pk)
            Backtest.objects.filter(pk=backtest_id).update(run_ids=run_ids, heartbeat_at=now)
    except AnalysisError as exc:
        backtest_fail(backtest_id=backtest_id, error=f"Could not analyse a cutoff: {exc.message}")
        return False
    return True


def backtest_evaluate(*, backtest_id: int) -> str:
    """Compare each cutoff's run with what followed, once every run has finished. Returns the
    new status, WAITING while runs are still going, or "skipped: …"."""
    backtest = Backtest.objects.select_related("team").filter(pk=backtest_id).first()
    if backtest is None or backtest.status != BacktestStatus.RUNNING:
        return f"skipped: backtest is {backtest.status if backtest else 'gone'}"
    runs = {run.pk: run for run in AnalysisRun.objects.filter(pk__in=backtest.run_ids)}
    if len(runs) != len(backtest.cutoffs):
        return WAITING
    failed = [run for run in runs.values() if run.status == RunStatus.FAILED]
    if failed:
        run = failed[0]
        backtest_fail(
            backtest_id=backtest_id,
            error=f"The analysis at cutoff {run.window_end:%Y-%m} failed: {run.error}",
        )
        return BacktestStatus.FAILED
    if any(run.status != RunStatus.SUCCEEDED for run in runs.values()):
        done = sum(run.is_finished for run in runs.values())
        Backtest.objects.filter(pk=backtest_id).update(
            progress=5 + 80 * done // len(runs), heartbeat_at=timezone.now()
        )
        return WAITING
    try:
        Backtest.objects.filter(pk=backtest_id).update(stage="comparing", progress=90)
        results = [
            cutoff_evaluate(run=runs[run_id], horizon=backtest.horizon)
            for run_id in backtest.run_ids
        ]
    except Exception as exc:
        logger.exception("Evaluating backtest %s failed", backtest_id)
        backtest_fail(
            backtest_id=backtest_id, error=f"Comparison failed ({type(exc).__name__}): {exc}"
        )
        return BacktestStatus.FAILED
    finished = timezone.now()
    Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.RUNNING).update(
        status=BacktestStatus.SUCCEEDED, stage="done", progress=100, results=results,
        finished_at=finished, heartbeat_at=finished,
    )  # fmt: skip
    return BacktestStatus.SUCCEEDED


def backtests_for_team(*, team: Team):
    return Backtest.objects.filter(team=team).select_related("created_by")


def backtest_for_team(*, team: Team, backtest_id: int) -> Backtest | None:
    return Backtest.objects.filter(team=team, pk=backtest_id).first()


def cutoff_from_text(text: str) -> date:
    try:
        return parse_month(text)
    except ValueError as exc:
        raise BacktestError(str(exc)) from None

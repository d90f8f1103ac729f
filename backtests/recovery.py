"""The watchdog's part for backtests: the waiting step whose worker vanished is sent again
(its runs are the analyses' watchdog's), a launch that never ran is sent again or given up."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from revtrend_site.queueing import enqueue, recover_each, stalled, touch

from .models import Backtest, BacktestStatus
from .services import EVALUATE_TASK, LAUNCH_TASK, backtest_fail


def backtests_recover(*, stalled_after: timedelta, give_up_after: timedelta) -> list[str]:
    now = timezone.now()
    live = Backtest.objects.filter(status__in=(BacktestStatus.PENDING, BacktestStatus.RUNNING))
    return recover_each(
        stalled(live, since=now - stalled_after),
        "backtest",
        lambda backtest: _recover(backtest, give_up=backtest.created_at < now - give_up_after),
    )


def _recover(backtest: Backtest, *, give_up: bool) -> str:
    if give_up:
        backtest_fail(
            backtest_id=backtest.pk,
            error="It did not finish in time: the worker "
            "stopped or none is running (`make worker`). Start it again.",
        )
        return "failed"
    if not touch(Backtest, backtest):
        return ""
    if backtest.status == BacktestStatus.PENDING:
        enqueue(LAUNCH_TASK, backtest.pk)
        return "launch queued again"
    if len(backtest.run_ids) < len(backtest.cutoffs):  # the launch died half-way
        backtest_fail(
            backtest_id=backtest.pk,
            error="The worker stopped while starting the "
            "cutoffs' analyses. Start the backtest again.",
        )
        return "failed: launch stopped"
    enqueue(EVALUATE_TASK, backtest.pk)
    return "comparison queued again"

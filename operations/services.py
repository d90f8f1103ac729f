"""Operations: the watchdog over every kind of queued work, and the health checks."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from analytics.services.recovery import analysis_runs_recover
from backtests.recovery import backtests_recover
from customers.recovery import drafts_expire, uploads_recover
from reports.recovery import reports_recover

logger = logging.getLogger(__name__)


def watchdog_sweep(*, stalled_after: timedelta | None = None) -> list[str]:
    """Put right every run, import, report and backtest whose worker vanished: queued again,
    finished, or failed with the reason; delete uploads left as drafts. Returns one line per
    row acted on."""
    stalled_after = stalled_after or timedelta(seconds=settings.WATCHDOG_STALLED_AFTER)
    give_up_after = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    actions = [
        *uploads_recover(stalled_after=stalled_after),
        *analysis_runs_recover(stalled_after=stalled_after, give_up_after=give_up_after),
        *backtests_recover(stalled_after=stalled_after, give_up_after=give_up_after),
        *reports_recover(stalled_after=stalled_after),
        *drafts_expire(older_than=timedelta(hours=settings.DRAFT_UPLOAD_HOURS)),
    ]
    for action in actions:
        logger.warning("Watchdog: %s", action)
    return actions

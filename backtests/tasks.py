"""Celery tasks of a backtest: thin — load ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from .services import WAITING, backtest_evaluate, backtest_fail, backtest_launch

EVALUATE_RETRIES = 1800  # × 2 s: an hour for the cutoffs' analyses
EVALUATE_RETRY_SECONDS = 2


@shared_task(acks_late=True)
def backtest_launch_task(backtest_id: int) -> str:
    if not backtest_launch(backtest_id=backtest_id):
        return "skipped or failed"
    # After the runs' own queueing (callbacks run in the order they were registered).
    transaction.on_commit(lambda: backtest_evaluate_task.delay(backtest_id))
    return "launched"


@shared_task(bind=True, acks_late=True, max_retries=EVALUATE_RETRIES)
def backtest_evaluate_task(self, backtest_id: int) -> str:
    outcome = backtest_evaluate(backtest_id=backtest_id)
    if outcome != WAITING:
        return outcome
    if self.app.conf.task_always_eager:  # no broker: the runs ran before this, in this process
        backtest_fail(backtest_id=backtest_id, error="The cutoffs' analyses did not finish.")
        return "FAILED"
    if self.request.retries >= EVALUATE_RETRIES:
        backtest_fail(backtest_id=backtest_id, error="Gave up waiting for the analyses.")
        return "FAILED"
    raise self.retry(countdown=EVALUATE_RETRY_SECONDS)

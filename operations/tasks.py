"""The watchdog as a Celery beat task (`make beat`, one per deployment)."""

from __future__ import annotations

from celery import shared_task

from .services import watchdog_sweep


@shared_task(ignore_result=True)
def watchdog_task() -> int:
    return len(watchdog_sweep())

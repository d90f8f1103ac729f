"""Celery task of a report: thin — claim the row, call one service."""

from __future__ import annotations

from celery import shared_task

from .services import report_claim, report_generate


@shared_task(acks_late=True)
def report_generate_task(report_id: int) -> str:
    report = report_claim(report_id=report_id)
    if report is None:
        return "skipped: not pending (already claimed or done)"
    return report_generate(report=report).status

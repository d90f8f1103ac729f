"""The watchdog's part for reports: a report whose worker vanished (mid-call to the model,
say) is queued again, or failed with the reason once it has stopped its worker
``MAX_ATTEMPTS`` times. Every other report stays as it is."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from revtrend_site.queueing import enqueue, recover_each, stalled, touch

from .models import Report, ReportStatus
from .services import GENERATE_TASK

MAX_ATTEMPTS = 2  # each attempt may spend the model's whole timeout and retries


def reports_recover(*, stalled_after: timedelta) -> list[str]:
    """A running report is silent while the model writes: it is stalled only once the
    model's whole time budget has passed too."""
    stalled_after = max(stalled_after, model_budget())
    now = timezone.now()
    live = Report.objects.filter(status__in=(ReportStatus.PENDING, ReportStatus.RUNNING))
    live = live.only("pk", "status", "heartbeat_at", "attempts")
    return recover_each(stalled(live, since=now - stalled_after), "report", _recover)


def model_budget() -> timedelta:
    """The longest a report may wait for the model: every attempt timing out, the longest
    waits between them, and a margin."""
    attempts = settings.LLM_RETRY_ATTEMPTS
    seconds = attempts * settings.OPENAI_TIMEOUT + (attempts - 1) * settings.LLM_RETRY_AFTER_CAP
    return timedelta(seconds=seconds + 60)


def _recover(report: Report) -> str:
    if report.attempts >= MAX_ATTEMPTS:
        failed = Report.objects.filter(pk=report.pk, status=report.status).update(
            status=ReportStatus.FAILED,
            error=f"The worker stopped {report.attempts} times while writing this report. "
            "Generate it again.",
            finished_at=timezone.now(),
        )
        return "failed" if failed else ""
    if not touch(Report, report, status=ReportStatus.PENDING):
        return ""
    enqueue(GENERATE_TASK, report.pk)
    return "queued again"

"""Celery tasks of the workflow: thin — load ids, call the services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from analytics.models import AnalysisRun
from revtrend_site.queueing import enqueue

from . import delivery
from .alerts import alerts_raise, notifications_create, show_daily
from .digest import weekly_digests_send
from .models import DeliveryStatus, WebhookDelivery
from .schedules import scheduled_analysis


@shared_task(acks_late=True)
def alerts_evaluate_task(run_id: int) -> str:
    """Judge the rules for a succeeded run; notify; e-mail the immediate; queue the webhooks.
    Safe twice: alerts and notifications are unique, e-mails go once (emailed_at)."""
    run = AnalysisRun.objects.select_related("team").filter(pk=run_id).first()
    if run is None:
        return "skipped: no such run"
    alerts = alerts_raise(run=run)
    notified = notifications_create(run=run, alerts=alerts)
    emails = delivery.emails_immediate(run=run)
    # Webhooks hear of every alert, whoever else does (a team may have no admin to notify).
    deliveries = delivery.deliveries_create(run=run, alerts=alerts)
    for item in deliveries:
        enqueue(delivery.DELIVER_TASK, item.pk)
    return (
        f"{len(alerts)} alerts, {notified} notifications, {emails} e-mails, "
        f"{len(deliveries)} webhooks"
    )


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """One attempt; a failure worth repeating is retried by Celery after
    WEBHOOK_BACKOFF × 2^(attempt − 1) seconds, up to WEBHOOK_ATTEMPTS attempts. Without a
    broker there is no clock to wait on: the attempts follow each other at once."""
    item = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if item is None or item.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
        return "skipped"
    while True:
        try:
            delivery.deliver(item)
            return item.status
        except delivery.DeliveryFailed as exc:
            if item.attempts >= settings.WEBHOOK_ATTEMPTS:
                delivery.delivery_give_up(item)
                return f"gave up after {item.attempts} attempts: {exc}"
            if not self.app.conf.task_always_eager:
                countdown = settings.WEBHOOK_BACKOFF * 2 ** (item.attempts - 1)
                raise self.retry(countdown=countdown) from exc


@shared_task
def daily_digest_task() -> str:
    shown = show_daily()
    emails = delivery.emails_daily()
    return f"{shown} shown, {emails} e-mails"


@shared_task
def weekly_digest_task() -> str:
    return f"{weekly_digests_send()} e-mails"


@shared_task(acks_late=True)
def scheduled_analysis_task(team_id: int) -> str:
    run = scheduled_analysis(team_id=team_id)
    return f"run #{run.pk}" if run else "not started"

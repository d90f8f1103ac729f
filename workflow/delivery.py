"""Delivering alerts: e-mail (Django's e-mail framework) and webhooks (a Slack-compatible JSON
body, signed with HMAC-SHA256 by a per-webhook secret, retried with backoff by Celery)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from analytics.links import customer_url_builder
from analytics.models import AnalysisRun

from .models import (
    Alert,
    Cadence,
    DeliveryPreference,
    DeliveryStatus,
    Notification,
    Webhook,
    WebhookDelivery,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-RevTrend-Signature"
MAX_LISTED = 50  # alerts listed in one e-mail or webhook message; the rest are counted
DELIVER_TASK = "workflow.tasks.webhook_deliver_task"


def customer_link(team_slug: str, external_id: str) -> str:
    """The customer's page as an absolute URL (the pages' own link builder, so an id such as
    ".." is handled the same way)."""
    return settings.SITE_URL + customer_url_builder(team_slug=team_slug)(external_id)


# --- E-mail -------------------------------------------------------------------------------


def emails_send(*, notifications: QuerySet[Notification], subject: Callable[[int], str]) -> int:
    """One e-mail per user listing their due notifications (oldest first), then marked sent.
    A user without an address is skipped (and stays due). How many e-mails went out."""
    by_user: dict[int, list[Notification]] = defaultdict(list)
    due = notifications.filter(email_due=True, emailed_at__isnull=True)
    for notification in due.select_related("alert__customer", "alert__rule__team", "alert__team"):
        by_user[notification.user_id].append(notification)
    users = get_user_model().objects.in_bulk(list(by_user))
    sent = 0
    for user_id, items in by_user.items():
        user = users[user_id]
        if not user.email:
            continue
        alerts = [n.alert for n in sorted(items, key=lambda n: n.pk)]
        listed = [
            {"alert": a, "link": customer_link(a.team.slug, a.customer.external_id)}
            for a in alerts[:MAX_LISTED]
        ]
        context = {"user": user, "items": listed, "more": max(0, len(alerts) - MAX_LISTED)}
        body = render_to_string("workflow/email_alerts.txt", context)
        try:
            send_mail(subject(len(alerts)), body, None, [user.email])
        except (OSError, smtplib.SMTPException) as exc:  # stays due: the next digest tries again
            logger.warning("Alert e-mail to user %s failed: %s", user_id, exc)
            continue
        Notification.objects.filter(pk__in=[n.pk for n in items]).update(emailed_at=timezone.now())
        sent += 1
    return sent


def _immediate_users() -> QuerySet:
    """Users who want alert e-mails at once (the default is the daily digest)."""
    return DeliveryPreference.objects.filter(email=Cadence.IMMEDIATE).values("user_id")


def emails_immediate(*, run: AnalysisRun) -> int:
    """The run's alerts to the users who want e-mail at once: one e-mail each."""
    notifications = Notification.objects.filter(alert__run=run, user_id__in=_immediate_users())

    def subject(count: int) -> str:
        return f"RevTrend: {count} new alert{'s' if count != 1 else ''} for {run.team.name}"

    return emails_send(notifications=notifications, subject=subject)


def emails_daily() -> int:
    """The daily digest's e-mail part: everything still due (the daily users' alerts, and
    any immediate e-mail that failed)."""
    due = Notification.objects.all()
    return emails_send(
        notifications=due,
        subject=lambda count: (
            f"RevTrend: your daily digest, {count} alert{'s' if count != 1 else ''}"
        ),
    )


# --- Webhooks -----------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def run_payload(run: AnalysisRun, alerts: list[Alert]) -> dict:
    """A Slack-compatible message (``text`` and ``blocks``) with the alerts as data too."""
    team = run.team
    lines = [
        f"• <{customer_link(team.slug, a.customer.external_id)}|{a.customer.external_id}>: "
        f"{a.message} ({a.rule.describe().lower()})"
        for a in alerts[:MAX_LISTED]
    ]
    more = len(alerts) - MAX_LISTED
    if more > 0:
        lines.append(f"… and {more} more")
    text = f"RevTrend: {len(alerts)} new alert{'s' if len(alerts) != 1 else ''} for {team.name}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
        "revtrend": {
            "team": team.slug,
            "run": run.pk,
            "alerts": [
                {
                    "customer": a.customer.external_id,
                    "rule": a.rule.kind,
                    "threshold": None if a.rule.threshold is None else float(a.rule.threshold),
                    "message": a.message,
                    "value": a.value,
                }
                for a in alerts[:MAX_LISTED]
            ],
            "total": len(alerts),
        },
    }


def test_payload(webhook: Webhook) -> dict:
    text = f"RevTrend: a test message for {webhook.team.name} ({webhook.name})"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "revtrend": {"team": webhook.team.slug, "test": True},
    }


def deliveries_create(*, run: AnalysisRun, alerts: list[Alert]) -> list[WebhookDelivery]:
    """One message per enabled webhook with the run's alerts; none for a webhook that already
    has the run's message (the task judging a run twice sends nothing twice)."""
    if not alerts:
        return []
    payload = run_payload(run, alerts)
    hooks = Webhook.objects.filter(team_id=run.team_id, enabled=True).exclude(
        deliveries__run=run, deliveries__is_test=False
    )
    return [WebhookDelivery.objects.create(webhook=h, run=run, payload=payload) for h in hooks]


class DeliveryFailed(Exception):
    """The endpoint did not take it; worth another attempt."""


def deliver(delivery: WebhookDelivery) -> None:
    """POST the payload once; record the answer. Raises DeliveryFailed on a connection error,
    a timeout, a 429 or a 5xx (retried); any other non-2xx fails at once."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    request = urllib.request.Request(
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "RevTrend-Webhook/1",
            SIGNATURE_HEADER: sign(delivery.webhook.secret, body),
            "X-RevTrend-Delivery": str(delivery.pk),
            "X-RevTrend-Timestamp": str(int(time.time())),
        },
    )
    attempts = delivery.attempts + 1
    try:
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        _record(delivery, attempts, None, f"no answer: {getattr(exc, 'reason', exc)}")
        raise DeliveryFailed(str(exc)) from exc
    if 200 <= code < 300:
        _record(delivery, attempts, code, "", DeliveryStatus.DELIVERED)
        return
    _record(delivery, attempts, code, f"HTTP {code}")
    if code == 429 or code >= 500:
        raise DeliveryFailed(f"HTTP {code}")
    delivery_give_up(delivery)


def _record(
    delivery: WebhookDelivery, attempts: int, code: int | None, error: str,
    status: str = DeliveryStatus.RETRYING,
) -> None:  # fmt: skip
    delivery.attempts, delivery.status_code, delivery.error = attempts, code, error[:500]
    delivery.status = status
    if status == DeliveryStatus.DELIVERED:
        delivery.finished_at = timezone.now()
    delivery.save(update_fields=["attempts", "status_code", "error", "status", "finished_at"])


def delivery_give_up(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, finished_at=timezone.now()
    )
    logger.warning(
        "Webhook %s gave up on delivery %s after %s attempt(s): %s",
        delivery.webhook_id, delivery.pk, delivery.attempts, delivery.error,
    )  # fmt: skip

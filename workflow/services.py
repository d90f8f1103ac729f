"""Writing the workflow's settings: alert rules and webhooks (team admins), each user's
delivery choices, the notifications' read marks. Each team change is audited."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Team
from audit.services import audit_record
from revtrend_site.queueing import enqueue

from .alerts import threshold_problem
from .delivery import DELIVER_TASK, test_payload
from .models import (
    AlertRule,
    Cadence,
    DeliveryPreference,
    Notification,
    RuleKind,
    Webhook,
    WebhookDelivery,
)


class WorkflowError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def rule_create(*, team: Team, kind: str, threshold: str, user: User) -> AlertRule:
    if kind not in RuleKind.values:
        raise WorkflowError(f"Unknown kind of rule {kind!r}.")
    value: Decimal | None = None
    if kind != RuleKind.CHURNED:
        try:
            value = Decimal(threshold.strip().replace(",", ""))
        except InvalidOperation:
            raise WorkflowError(f"The threshold {threshold!r} is not a number.") from None
        if not value.is_finite():
            raise WorkflowError("The threshold must be a finite number.")
    problem = threshold_problem(kind, value)
    if problem:
        raise WorkflowError(problem)
    try:
        with transaction.atomic():
            rule = AlertRule.objects.create(team=team, kind=kind, threshold=value, created_by=user)
    except IntegrityError:
        raise WorkflowError("The team already has this rule.") from None
    audit_record(
        action="alert_rule.create", team=team, target=rule, user=user, detail=rule.describe()
    )
    return rule


def rule_delete(*, rule: AlertRule, user: User) -> None:
    description, team = rule.describe(), rule.team
    rule.delete()
    audit_record(action="alert_rule.delete", team=team, user=user, detail=description)


def rule_toggle(*, rule: AlertRule, user: User) -> AlertRule:
    rule.enabled = not rule.enabled
    rule.save(update_fields=["enabled"])
    state = "on" if rule.enabled else "off"
    audit_record(
        action="alert_rule.toggle", team=rule.team, target=rule, user=user,
        detail=f"{rule.describe()}: {state}",
    )  # fmt: skip
    return rule


def webhook_url_problem(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        return "The webhook URL must start with http:// or https://."
    if not parsed.netloc or len(url) > 500:
        return "This is not a usable webhook URL."
    return ""


def webhook_create(*, team: Team, name: str, url: str, user: User) -> Webhook:
    name, url = " ".join(name.split())[:100], url.strip()
    if not name:
        raise WorkflowError("Give the webhook a name.")
    problem = webhook_url_problem(url)
    if problem:
        raise WorkflowError(problem)
    webhook = Webhook.objects.create(team=team, name=name, url=url, created_by=user)
    audit_record(
        action="webhook.create", team=team, target=webhook, user=user, detail=f"{name}: {url}"
    )
    return webhook


def webhook_delete(*, webhook: Webhook, user: User) -> None:
    detail, team = f"{webhook.name}: {webhook.url}", webhook.team
    webhook.delete()
    audit_record(action="webhook.delete", team=team, user=user, detail=detail)


def webhook_test(*, webhook: Webhook, user: User) -> WebhookDelivery:
    """Queue a test message (the delivery log shows how it went)."""
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, is_test=True, payload=test_payload(webhook)
    )
    enqueue(DELIVER_TASK, delivery.pk)
    audit_record(action="webhook.test", team=webhook.team, target=webhook, user=user)
    return delivery


def preference_for(*, user: User) -> DeliveryPreference:
    return DeliveryPreference.objects.filter(user=user).first() or DeliveryPreference(user=user)


def preference_save(*, user: User, in_app: str, email: str, weekly_digest: bool) -> None:
    if in_app not in Cadence.values or email not in Cadence.values:
        raise WorkflowError("Choose immediately, daily digest or off.")
    DeliveryPreference.objects.update_or_create(
        user=user, defaults={"in_app": in_app, "email": email, "weekly_digest": weekly_digest}
    )


def notifications_for(*, user: User) -> QuerySet[Notification]:
    """The user's notifications that the bell shows, for teams the user is still in."""
    return (
        Notification.objects.filter(
            user=user, shown_at__isnull=False, alert__team__memberships__user=user
        )
        .select_related("alert__customer", "alert__team", "alert__rule__team")
        .order_by("-shown_at", "-pk")
    )


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    unread = Notification.objects.filter(user=user, read_at__isnull=True, shown_at__isnull=False)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())

"""The team's workflow around its results: alert rules and the alerts they raised, each user's
notifications and delivery choices, webhooks and their delivery log, and the team's schedule.

An alert is a customer's change for the worse between two runs that a rule names; it is raised
once per rule, customer and run (the database says so), and only when the previous run did not
already show that state, so a second identical run raises nothing.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django_celery_beat.models import PeriodicTask

from accounts.models import Team
from analytics.models import AnalysisRun
from customers.models import Customer
from revtrend_site.numbers import format_money


class RuleKind(models.TextChoices):
    LEVEL = "level", "Enters level N or worse"
    CHURNED = "churned", "Becomes churned"
    REVENUE_AT_RISK = "revenue_at_risk", "Revenue at risk reaches X"
    ANOMALY = "anomaly", "An anomaly with z of Z or more"
    P_ACTIVE = "p_active", "Still-buying probability falls below P"


class AlertRule(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alert_rules")
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    # N (1–3), X (money, ≥ 0), Z (> 0) or P (0–1); unused for churn.
    threshold = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "threshold", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "kind", "threshold"], name="alert_rule_unique_per_team"
            ),
        ]

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        value = self.threshold
        if self.kind == RuleKind.LEVEL:
            return f"Enters level {int(value or 0)} or worse"
        if self.kind == RuleKind.CHURNED:
            return "Becomes churned"
        if self.kind == RuleKind.REVENUE_AT_RISK:
            # The team is read only here; lists select it with the rule (rule__team).
            return f"Revenue at risk reaches {format_money(value, self.team.currency, space=' ')}"
        if self.kind == RuleKind.ANOMALY:
            return f"An anomaly with z ≥ {value:g}"
        return f"Still-buying probability falls below {float(value or 0) * 100:g} %"


class Alert(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="alerts")
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="alerts")
    # What changed, for people ("level 1 → 3; 4,500 at risk") and as a value for machines.
    message = models.CharField(max_length=300)
    value = models.FloatField(null=True, blank=True)
    # Who should hear of it: the customer's owner, else the team's admins (when raised).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "customer", "run"], name="alert_once_per_rule_customer_run"
            ),
        ]
        indexes = [models.Index(fields=["team", "-created_at"], name="alert_team_time")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.message}"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "E-mail"


class Cadence(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DAILY = "daily", "Daily digest"
    OFF = "off", "Off"


# What a user gets without having chosen: the bell at once, e-mail once a day.
DEFAULT_CADENCE = {Channel.IN_APP: Cadence.IMMEDIATE, Channel.EMAIL: Cadence.DAILY}


class DeliveryPreference(models.Model):
    """A user's choices (one row per user; none: the defaults)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference"
    )
    in_app = models.CharField(
        max_length=10, choices=Cadence.choices, default=DEFAULT_CADENCE[Channel.IN_APP]
    )
    email = models.CharField(
        max_length=10, choices=Cadence.choices, default=DEFAULT_CADENCE[Channel.EMAIL]
    )
    weekly_digest = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.user_id}: in-app {self.in_app}, e-mail {self.email}"


class Notification(models.Model):
    """One alert for one user, delivered on each channel by the user's choice: in the bell
    at once or with the daily digest (``shown_at``), by e-mail at once or in the daily
    digest (``email_due`` → ``emailed_at``), or not at all."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    in_app_due = models.BooleanField(default=True)
    shown_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # E-mail: due (immediately or in the next daily digest, by the user's choice) → sent.
    email_due = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "alert"], name="notification_once_per_user")
        ]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                name="notification_unread",
                condition=models.Q(read_at__isnull=True, shown_at__isnull=False),
            ),
            models.Index(
                fields=["user"],
                name="notification_email_due",
                condition=models.Q(email_due=True, emailed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: alert {self.alert_id}"


def new_secret() -> str:
    return secrets.token_hex(32)


class Webhook(models.Model):
    """A team's HTTP endpoint for alerts (a Slack incoming webhook, or any server)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # The HMAC-SHA256 key of the X-RevTrend-Signature header; shown to admins once made.
    secret = models.CharField(max_length=64, default=new_secret)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting"
    DELIVERED = "DELIVERED", "Delivered"
    RETRYING = "RETRYING", "Retrying"
    FAILED = "FAILED", "Gave up"


class WebhookDelivery(models.Model):
    """One message to one webhook (a run's alerts, or a test) and how it went."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    run = models.ForeignKey(AnalysisRun, on_delete=models.SET_NULL, null=True, related_name="+")
    is_test = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.webhook_id} #{self.pk}: {self.status}"


class Frequency(models.TextChoices):
    OFF = "off", "Never"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"


class TeamSchedule(models.Model):
    """When the team's data is analysed without anyone pressing the button."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="schedule")
    analyse_after_import = models.BooleanField(default=True)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.OFF)
    weekday = models.PositiveSmallIntegerField(default=0)  # 0 = Monday (weekly only)
    time = models.TimeField(default="06:00")  # in settings.TIME_ZONE
    # django-celery-beat's row that fires it (`make beat` with the database scheduler).
    periodic_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.team_id}: {self.frequency}"

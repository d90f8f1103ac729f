"""Judging the team's alert rules when a run succeeds, and who hears of each alert.

A rule fires for a customer whose state in this run is on the wrong side of its threshold
while it was not in the previous succeeded analysis (or the customer was not in it): only
changes for the worse, and never twice for the same state — a second identical run finds
nothing new. The team's first run is the baseline and raises nothing. Each alert goes to the
customer's owner; an unowned customer's alerts go to the team's admins.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import Membership, Role, Team
from analytics.models import (
    LEVEL_LABELS,
    AnalysisRun,
    Anomaly,
    CustomerResult,
    RunPurpose,
    previous_analysis,
)
from customers.models import Customer
from revtrend_site.numbers import format_money

from .models import (
    Alert,
    AlertRule,
    Cadence,
    DeliveryPreference,
    Notification,
    RuleKind,
)


@dataclass(frozen=True)
class State:
    """What the rules read of one customer in one run."""

    level: int | None
    churned: bool
    revenue_at_risk: float
    p_active: float | None


FIELDS = ("customer_id", "decline_level", "churned", "revenue_at_risk", "p_active")


def _states(run: AnalysisRun) -> dict[int, State]:
    rows = CustomerResult.objects.filter(run=run).values_list(*FIELDS)
    return {
        customer: State(level, churned, float(risk), p_active)
        for customer, level, churned, risk, p_active in rows.iterator(chunk_size=10_000)
    }


@dataclass(frozen=True)
class Found:
    customer_id: int
    message: str
    value: float | None


def _level_name(level: int | None) -> str:
    return "insufficient data" if level is None else f"{level} ({LEVEL_LABELS[level].lower()})"


def judge(
    rule: AlertRule,
    now: dict[int, State],
    before: dict[int, State],
    anomalies: dict,
    currency: str = "",
) -> list[Found]:
    """The customers for whom ``rule`` fires: on the wrong side now, not before
    (``currency``: the team's code, for the amounts in the messages)."""
    threshold = float(rule.threshold) if rule.threshold is not None else 0.0
    found = []
    if rule.kind == RuleKind.ANOMALY:
        return _new_anomalies(threshold, anomalies)
    for customer, state in now.items():
        was = before.get(customer)
        hit = _fires(rule.kind, threshold, state, was, currency)
        if hit is not None:
            found.append(Found(customer, *hit))
    return found


def _fires(
    kind: str, threshold: float, state: State, was: State | None, currency: str = ""
) -> tuple[str, float | None] | None:
    if kind == RuleKind.LEVEL:
        if state.level is None or state.level < threshold:
            return None
        if was is None:
            return f"new at level {_level_name(state.level)}", float(state.level)
        if was.level is not None and was.level >= threshold:
            return None
        return f"level {_level_name(was.level)} → {_level_name(state.level)}", float(state.level)
    if kind == RuleKind.CHURNED:
        if state.churned and not (was and was.churned):
            return "churned: no revenue for months", None
        return None
    if kind == RuleKind.REVENUE_AT_RISK:
        if state.revenue_at_risk >= threshold and (was is None or was.revenue_at_risk < threshold):
            amount = format_money(state.revenue_at_risk, currency, space=" ")
            return f"revenue at risk {amount}", state.revenue_at_risk
        return None
    # P_ACTIVE: the probability that it still buys at its own rhythm fell below P.
    if state.p_active is None or state.p_active >= threshold:
        return None
    if was is not None and was.p_active is not None and was.p_active < threshold:
        return None
    return f"still buying with probability {state.p_active * 100:.0f} %", state.p_active


def _anomalies(run: AnalysisRun | None) -> dict[tuple[int, object], float]:
    if run is None:
        return {}
    rows = Anomaly.objects.filter(run=run).values_list("customer_id", "month", "zscore")
    return {(customer, month): z for customer, month, z in rows}


def _new_anomalies(threshold: float, anomalies: dict) -> list[Found]:
    """Per customer, the strongest anomaly of this run with z ≥ Z in a month the previous run
    had not flagged that strongly."""
    now, before = anomalies["now"], anomalies["before"]
    strongest: dict[int, tuple[float, object]] = {}
    for (customer, month), z in now.items():
        new = z >= threshold and before.get((customer, month), float("-inf")) < threshold
        if new and z > strongest.get(customer, (float("-inf"), None))[0]:
            strongest[customer] = (z, month)
    return [
        Found(customer, f"anomaly in {month:%Y-%m}, z = {z:.1f}", z)
        for customer, (z, month) in strongest.items()
    ]


def alerts_raise(*, run: AnalysisRun) -> list[Alert]:
    """Judge every enabled rule of the run's team; the alerts raised (none twice)."""
    if run.purpose != RunPurpose.ANALYSIS:
        return []
    rules = list(AlertRule.objects.filter(team_id=run.team_id, enabled=True))
    previous = previous_analysis(run)
    if not rules or previous is None:
        return []
    now, before = _states(run), _states(previous)
    currency = Team.objects.filter(pk=run.team_id).values_list("currency", flat=True).get()
    anomalies: dict[str, dict] = {"now": {}, "before": {}}
    if any(rule.kind == RuleKind.ANOMALY for rule in rules):
        anomalies = {"now": _anomalies(run), "before": _anomalies(previous)}
    owners = dict(
        Customer.objects.filter(team_id=run.team_id, owner__isnull=False).values_list(
            "pk", "owner_id"
        )
    )
    alerts = [
        Alert(
            team_id=run.team_id,
            rule=rule,
            customer_id=hit.customer_id,
            run=run,
            message=hit.message[:300],
            value=hit.value,
            owner_id=owners.get(hit.customer_id),
        )
        for rule in rules
        for hit in judge(rule, now, before, anomalies, currency)
    ]
    Alert.objects.bulk_create(alerts, ignore_conflicts=True, batch_size=2000)
    return list(Alert.objects.filter(run=run).select_related("rule__team", "customer"))


def notifications_create(*, run: AnalysisRun, alerts: Iterable[Alert]) -> int:
    """One notification per alert and recipient: the owner (while a member), else the admins;
    delivered by each recipient's choices. Safe twice (unique per user and alert); returns
    how many it wrote or found already written."""
    members = dict(Membership.objects.filter(team_id=run.team_id).values_list("user_id", "role"))
    admins = [user for user, role in members.items() if role == Role.ADMIN]
    preferences = {
        p.user_id: p for p in DeliveryPreference.objects.filter(user_id__in=list(members))
    }
    now = timezone.now()
    rows = []
    for alert in alerts:
        recipients = [alert.owner_id] if alert.owner_id in members else admins
        for user in recipients:
            preference = preferences.get(user) or DeliveryPreference(user_id=user)
            rows.append(
                Notification(
                    user_id=user,
                    alert=alert,
                    in_app_due=preference.in_app != Cadence.OFF,
                    shown_at=now if preference.in_app == Cadence.IMMEDIATE else None,
                    email_due=preference.email != Cadence.OFF,
                )
            )
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return len(created)


def show_daily(*, now=None) -> int:
    """The daily digest's in-app part: the notifications of users who chose it appear."""
    now = now or timezone.now()
    return Notification.objects.filter(in_app_due=True, shown_at__isnull=True).update(shown_at=now)


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(
        user_id=user_id, shown_at__isnull=False, read_at__isnull=True
    ).count()


def threshold_problem(kind: str, value: Decimal | None) -> str:
    """Why a rule's threshold cannot be used, or ''."""
    if kind == RuleKind.CHURNED:
        return ""
    if value is None:
        return "This rule needs a threshold."
    if kind == RuleKind.LEVEL and value not in (1, 2, 3):
        return "The level must be 1, 2 or 3."
    if kind == RuleKind.REVENUE_AT_RISK and value <= 0:
        return "The revenue at risk must be more than 0."
    if kind == RuleKind.ANOMALY and value <= 0:
        return "The anomaly z must be more than 0."
    if kind == RuleKind.P_ACTIVE and not 0 < value < 1:
        return "The probability must be between 0 and 1 (for example 0.3)."
    return ""

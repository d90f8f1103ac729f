"""The workflow's pages: the team's alerts, rules and webhooks (admins manage them), the
team's schedule (admins), and each user's notifications, bell menu and delivery choices."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from accounts.services import team_currency_set
from analytics.links import customer_url_builder

from .alerts import unread_count
from .models import Alert, AlertRule, Cadence, Frequency, Notification, RuleKind, Webhook
from .schedules import ScheduleRequest, schedule_save, team_schedule
from .services import (
    WorkflowError,
    notifications_for,
    notifications_mark_read,
    preference_for,
    preference_save,
    rule_create,
    rule_delete,
    rule_toggle,
    webhook_create,
    webhook_delete,
    webhook_test,
)

RECENT_ALERTS = 100
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MENU_ITEMS = 8
DELIVERIES_SHOWN = 50


@team_view()
@require_safe
def alerts_page(request: TeamRequest, team: Team) -> HttpResponse:
    """Everyone reads the team's alerts (``?mine=1``: those of the customers one owns);
    admins also manage the rules and the webhooks here."""
    alerts = Alert.objects.filter(team=team).select_related("customer", "rule__team", "owner")
    mine = request.GET.get("mine") == "1"
    if mine:
        alerts = alerts.filter(owner=request.user)
    url_for = customer_url_builder(team_slug=team.slug)
    rows = [{"alert": a, "url": url_for(a.customer.external_id)} for a in alerts[:RECENT_ALERTS]]
    is_admin = request.membership.has_role(Role.ADMIN)
    return render(
        request,
        "workflow/alerts.html",
        {
            "rows": rows,
            "mine": mine,
            "rules": AlertRule.objects.filter(team=team).select_related("team"),
            "rule_kinds": RuleKind.choices,
            "webhooks": Webhook.objects.filter(team=team) if is_admin else [],
            "is_admin": is_admin,
        },
    )


def _back(request: TeamRequest, team: Team, error: str = "", notice: str = "") -> HttpResponseBase:
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect("alerts_page", team.slug)


@team_view(Role.ADMIN)
@require_POST
def rule_add(request: TeamRequest, team: Team) -> HttpResponseBase:
    try:
        rule = rule_create(
            team=team,
            kind=request.POST.get("kind", ""),
            threshold=request.POST.get("threshold", ""),
            user=request.user,
        )
    except WorkflowError as exc:
        return _back(request, team, error=exc.message)
    return _back(request, team, notice=f"Rule added: {rule.describe()}.")


def _rule(team: Team, rule_id: int) -> AlertRule:
    rule = AlertRule.objects.filter(team=team, pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


@team_view(Role.ADMIN)
@require_POST
def rule_remove(request: TeamRequest, team: Team, rule_id: int) -> HttpResponseBase:
    rule_delete(rule=_rule(team, rule_id), user=request.user)
    return _back(request, team, notice="Rule removed.")


@team_view(Role.ADMIN)
@require_POST
def rule_switch(request: TeamRequest, team: Team, rule_id: int) -> HttpResponseBase:
    rule = rule_toggle(rule=_rule(team, rule_id), user=request.user)
    return _back(request, team, notice=f"{rule.describe()}: {'on' if rule.enabled else 'off'}.")


@team_view(Role.ADMIN)
@require_POST
def webhook_add(request: TeamRequest, team: Team) -> HttpResponseBase:
    try:
        webhook = webhook_create(
            team=team,
            name=request.POST.get("name", ""),
            url=request.POST.get("url", ""),
            user=request.user,
        )
    except WorkflowError as exc:
        return _back(request, team, error=exc.message)
    messages.success(request, f"Webhook {webhook.name} added. Its signing secret is below.")
    return redirect("webhook_detail", team.slug, webhook.pk)


def _webhook(team: Team, webhook_id: int) -> Webhook:
    webhook = Webhook.objects.filter(team=team, pk=webhook_id).first()
    if webhook is None:
        raise Http404("No such webhook.")
    return webhook


@team_view(Role.ADMIN)
@require_safe
def webhook_detail(request: TeamRequest, team: Team, webhook_id: int) -> HttpResponse:
    webhook = _webhook(team, webhook_id)
    deliveries = webhook.deliveries.all()[:DELIVERIES_SHOWN]
    return render(request, "workflow/webhook.html", {"webhook": webhook, "deliveries": deliveries})


@team_view(Role.ADMIN)
@require_POST
def webhook_send_test(request: TeamRequest, team: Team, webhook_id: int) -> HttpResponseBase:
    webhook_test(webhook=_webhook(team, webhook_id), user=request.user)
    messages.success(request, "Test message sent; the log below shows how it went.")
    return redirect("webhook_detail", team.slug, webhook_id)


@team_view(Role.ADMIN)
@require_POST
def webhook_remove(request: TeamRequest, team: Team, webhook_id: int) -> HttpResponseBase:
    webhook_delete(webhook=_webhook(team, webhook_id), user=request.user)
    return _back(request, team, notice="Webhook removed.")


@team_view(Role.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def schedule_page(request: TeamRequest, team: Team) -> HttpResponseBase:
    schedule = team_schedule(team=team)
    error = ""
    if request.method == "POST":
        try:
            at = time.fromisoformat(request.POST.get("time", "").strip())
        except ValueError:
            error = "Give the time as HH:MM."
        if not error:
            try:
                with transaction.atomic():  # a refused field changes nothing
                    currency = request.POST.get("currency", "")
                    team_currency_set(team=team, code=currency, user=request.user)
                    schedule_save(
                        team=team,
                        request=ScheduleRequest(
                            analyse_after_import=request.POST.get("analyse_after_import") == "on",
                            frequency=request.POST.get("frequency", ""),
                            weekday=int(request.POST.get("weekday", "0") or 0),
                            at=at,
                        ),
                        user=request.user,
                    )
            except ValueError as exc:
                error = str(exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("schedule_page", team.slug)
    return render(
        request,
        "workflow/schedule.html",
        {
            "schedule": schedule,
            "frequencies": Frequency.choices,
            "weekdays": list(enumerate(DAY_NAMES)),
            "error": error,
        },
        status=400 if error else 200,
    )


# --- The user's notifications --------------------------------------------------------------


class SignedInRequest(HttpRequest):
    """What ``login_required`` lets through (django-stubs' typed-request pattern)."""

    user: User


@login_required
@require_safe
def notifications_page(request: SignedInRequest) -> HttpResponse:
    notifications = notifications_for(user=request.user)[:200]
    return render(request, "workflow/notifications.html", {"notifications": _rows(notifications)})


def _rows(notifications: Iterable[Notification]) -> list[dict]:
    builders: dict[str, Callable[[str], str]] = {}
    rows = []
    for n in notifications:
        slug = n.alert.team.slug
        if slug not in builders:
            builders[slug] = customer_url_builder(team_slug=slug)
        rows.append({"n": n, "url": builders[slug](n.alert.customer.external_id)})
    return rows


@login_required
@require_safe
def notifications_menu(request: SignedInRequest) -> HttpResponse:
    """The bell: unread count and the latest few (HTMX, loaded after the page and polled)."""
    return _menu(request)


def _menu(request: SignedInRequest) -> HttpResponse:
    latest = notifications_for(user=request.user)[:MENU_ITEMS]
    return render(
        request,
        "workflow/_menu.html",
        {"unread": unread_count(user_id=request.user.pk), "items": _rows(latest)},
    )


@login_required
@require_POST
def notifications_read(request: SignedInRequest) -> HttpResponseBase:
    ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()]
    notifications_mark_read(user=request.user, ids=ids or None)
    if request.headers.get("HX-Request"):
        return _menu(request)
    return redirect("notifications_page")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def notification_settings(request: SignedInRequest) -> HttpResponseBase:
    preference = preference_for(user=request.user)
    if request.method == "POST":
        try:
            preference_save(
                user=request.user,
                in_app=request.POST.get("in_app", ""),
                email=request.POST.get("email", ""),
                weekly_digest=request.POST.get("weekly_digest") == "on",
            )
        except WorkflowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Saved.")
            return redirect("notification_settings")
    return render(
        request,
        "workflow/settings.html",
        {"preference": preference, "cadences": Cadence.choices},
    )

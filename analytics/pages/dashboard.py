"""The dashboard `/t/<team>/`: the current results at a glance, movers, the latest run."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Role, Team
from analytics.links import customer_url_builder
from analytics.services.dashboard import Dashboard, dashboard_summary, my_customers
from analytics.services.window import team_data_months
from customers.services import uploads_for_team

TEMPLATE = "analytics/dashboard.html"


@team_view()
@require_safe
def dashboard(request: TeamRequest, team: Team) -> HttpResponse:
    summary = dashboard_summary(team=team)
    first_month, last_month = team_data_months(team=team)
    is_admin = request.membership.role == Role.ADMIN
    return render(
        request,
        TEMPLATE,
        {
            "dashboard": summary,
            "has_data": last_month is not None,
            "first_month": first_month,
            "last_month": last_month,
            "can_start": request.membership.has_role(Role.ANALYST),
            "recent_uploads": uploads_for_team(team=team)[:5] if is_admin else [],
            "mover_lists": _mover_lists(summary, team.slug),
            "chart_data": chart_data(summary, team.currency),
            "mine": _mine(summary, request, team.slug),
        },
    )


def _mine(summary: Dashboard, request: TeamRequest, team_slug: str) -> dict | None:
    """The user's own customers: a card with their figures and the five with most at stake."""
    if summary.run is None:
        return None
    mine = my_customers(run=summary.run, user_id=request.user.pk)
    url = customer_url_builder(team_slug=team_slug)
    top = [{**row, "url": url(row["customer__external_id"])} for row in mine.top]
    return {"figures": mine, "top": top}


def _mover_lists(summary: Dashboard, team_slug: str) -> list[dict]:
    """Each list of movers with the link to every customer's page."""
    if summary.movers is None:
        return []
    url = customer_url_builder(team_slug=team_slug)
    return [
        {
            "list": movers,
            "rows": [{"mover": mover, "url": url(mover.external_id)} for mover in movers.movers],
        }
        for movers in summary.movers.lists
    ]


def chart_data(summary: Dashboard, currency: str = "") -> dict | None:
    """What static/js/dashboard_charts.js draws (it computes nothing); ``currency``: the
    team's code, for the heatmap's hover labels."""
    if summary.run is None:
        return None
    heatmap = summary.heatmap
    assert heatmap is not None  # dashboard_summary gives one with every run
    return {
        "distribution": [
            {"level": level, "label": label, "customers": count}
            for level, label, count in summary.distribution
        ],
        "heatmap": {
            "months": [f"{month:%Y-%m}" for month in heatmap.months],
            "levels": [label for level, label, _ in summary.distribution if level is not None],
            "customers": heatmap.customers,
            "averages": heatmap.averages,
            "currency": currency,
        },
    }

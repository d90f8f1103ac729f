from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import team_view
from accounts.models import Team
from customers.services import team_revenue_summary, uploads_for_team


@team_view()
def dashboard(request: HttpRequest, team: Team) -> HttpResponse:
    return render(
        request,
        "analytics/dashboard.html",
        {
            "summary": team_revenue_summary(team=team),
            "recent_uploads": uploads_for_team(team=team)[:5],
        },
    )

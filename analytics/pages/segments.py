"""The segments page `/t/<team>/segments/`: the current run's segments, their radar profile
and level mix, each linking to the risk table filtered to it."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Team
from analytics.models import current_run
from analytics.services.segments import segment_overview

TEMPLATE = "analytics/segments.html"


@team_view()
@require_safe
def segment_list(request: TeamRequest, team: Team) -> HttpResponse:
    run = current_run(team)
    overview = segment_overview(run=run, currency=team.currency) if run else None
    return render(
        request,
        TEMPLATE,
        {
            "run": run,
            "overview": overview,
            "radar_data": overview.radar_data() if overview else {},
            "customers_url": reverse("customer_list", args=[team.slug]),
        },
    )

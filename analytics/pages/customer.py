"""The customer diagnostics page `/t/<team>/customers/<customer_id>/`."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.access import TeamRequest, team_view
from accounts.models import Team
from analytics.services.customer import customer_diagnostics

from .followup import follow_up_context

TEMPLATE = "analytics/customer_detail.html"


@team_view()
@require_safe
def customer_detail(request: TeamRequest, team: Team, customer_id: str) -> HttpResponse:
    """``customer_id`` is the uploaded id, decoded from the URL (it may hold "/")."""
    diagnostics = customer_diagnostics(team=team, external_id=customer_id)
    if diagnostics is None:
        raise Http404("No such customer.")
    return render(
        request,
        TEMPLATE,
        {
            "diagnostics": diagnostics,
            "chart_data": {**diagnostics.chart_data(), "currency": team.currency},
            **follow_up_context(request, diagnostics.customer),
        },
    )

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .access import teams_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to the team they used last, or their first team."""
    teams = teams_for(request.user)
    if not teams:
        return render(request, "accounts/no_team.html")
    last = request.session.get("last_team")
    slugs = [team.slug for team in teams]
    return redirect("dashboard", team_slug=last if last in slugs else slugs[0])

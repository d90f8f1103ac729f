from __future__ import annotations

from django.http import HttpRequest

from .access import teams_for


def teams(request: HttpRequest) -> dict:
    """The user's teams for the switcher, and the current team when a team page is shown."""
    return {
        "user_teams": teams_for(request.user) if hasattr(request, "user") else [],
        "current_team": getattr(request, "team", None),
        "current_membership": getattr(request, "membership", None),
    }

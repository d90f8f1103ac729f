from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .access import teams_for


def teams(request: HttpRequest) -> dict:
    """The user's teams for the switcher, and the current team when a team page is shown.
    The teams are read only when a template shows them: an HTMX fragment (the run-status
    poll, a risk-table page) has no switcher and no query for it."""
    user = getattr(request, "user", None)
    return {
        "user_teams": SimpleLazyObject(lambda: teams_for(user)) if user is not None else [],
        "current_team": getattr(request, "team", None),
        "current_membership": getattr(request, "membership", None),
    }

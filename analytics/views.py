from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.access import team_view
from accounts.models import Role, Team
from customers.services import team_revenue_summary, uploads_for_team

from .core import Params
from .models import AnalysisRun
from .services import AnalysisError, RunInProgress, analysis_run_start, current_run, run_for_team


@team_view()
def dashboard(request: HttpRequest, team: Team) -> HttpResponse:
    return render(
        request,
        "analytics/dashboard.html",
        {
            "summary": team_revenue_summary(team=team),
            "recent_uploads": uploads_for_team(team=team)[:5],
            "current_run": current_run(team),
        },
    )


@team_view(Role.ANALYST)
@require_POST
def run_start(request: HttpRequest, team: Team) -> HttpResponse:
    """Start an analysis with the default parameters (the runs page will offer the rest)."""
    try:
        run = analysis_run_start(team=team, params=Params(), user=request.user)
    except RunInProgress as exc:
        messages.info(request, exc.message)
        return redirect("run_detail", team_slug=team.slug, run_id=exc.run.pk)
    except AnalysisError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard", team_slug=team.slug)
    return redirect("run_detail", team_slug=team.slug, run_id=run.pk)


def _get_run(team: Team, run_id: int) -> AnalysisRun:
    run = run_for_team(team=team, run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    return run


@team_view()
@require_GET
def run_detail(request: HttpRequest, team: Team, run_id: int) -> HttpResponse:
    return render(request, "analytics/run_detail.html", {"run": _get_run(team, run_id)})


@team_view()
@require_GET
def run_status_partial(request: HttpRequest, team: Team, run_id: int) -> HttpResponse:
    return render(request, "analytics/run_detail.html#run-status", {"run": _get_run(team, run_id)})
